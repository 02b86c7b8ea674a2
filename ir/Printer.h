#pragma once
/// \file
/// The IR text format, printer side. One op per line; ops of a transformer layer are
/// grouped in a `layer N { ... }` block so a 32-layer model reads as 32 labelled blocks:
///
///   module @tiny attributes {arch = "llama"}
///
///   graph @decode attributes {phase = "decode"} {
///     %token_ids = input {name = "token_ids"} : i32[M]
///     layer 0 {
///       %l0.attn_norm = rms_norm %x, %l0.attn_norm.w {eps = 1.0e-05} : f32[M, 256]
///     }
///     output %next_tokens {name = "next_tokens"}
///   }
///
/// Printing is deterministic and the parser reads it back exactly.

#include "ir/Graph.h"

#include <string>

namespace reel::ir {

std::string printOp(const Op& op);
std::string printGraph(const Graph& graph);
std::string printModule(const Module& module);

}  // namespace reel::ir

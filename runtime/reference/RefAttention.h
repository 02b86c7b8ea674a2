#pragma once
/// \file
/// Causal GQA attention of the CPU reference over the fp16 KV cache.
///
/// First every live row's k and v are rounded to fp16 and written to its slot at its
/// position; then each live row attends over its range of cache entries, all read back as
/// fp16 (so the row's own k, v are the rounded ones, as on the GPU):
///  * decode: entries [0, kv_lens[i]) of the row's slot;
///  * prefill (graph attribute phase = "prefill"): entries [0, positions[i]].
/// With a sliding window W only the last W of those entries count (the current one
/// included). Scores q.k / sqrt(head_dim), softmax and the weighted sum of v run in f64.
/// The same math for every attention strategy: prefill and flash-prefill differ only in how
/// the GPU computes it (flash-prefill feeds q and the probabilities to its tensor-core steps as
/// f16 parts and remainders, close to f32).
/// A padding row (kv_lens[i] == 0) outputs zeros and writes nothing.

#include "runtime/reference/HostTensor.h"
#include "runtime/reference/KvCache.h"

#include <optional>
#include <vector>

namespace reel::reference {

/// The attention op's attributes and the graph's phase.
struct AttentionSpec {
  int64_t layer = 0;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  std::optional<int64_t> window;
  bool prefill = false;
};

/// The per-row step data attention reads.
struct AttentionRows {
  const std::vector<int32_t>* positions = nullptr;
  const std::vector<int32_t>* kvLens = nullptr;
  const std::vector<int32_t>* slots = nullptr;  ///< the cache slot of each row
};

/// Appends k, v to the cache and returns the attention output [rows, heads * headDim]
/// (rows split over up to `threads` threads).
HostTensor attention(const HostTensor& q, const HostTensor& k, const HostTensor& v, const AttentionSpec& spec,
                     const AttentionRows& rows, KvCacheState& cache, unsigned threads = 1);

}  // namespace reel::reference

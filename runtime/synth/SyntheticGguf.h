#pragma once
/// \file
/// Synthetic weights: a GGUF file of random tensors for any model shape, written from a
/// generic spec (the model-specific part, i.e. which tensors and which `llama.*` keys, is
/// the caller's). Values are mean + scale * a normal-ish variate, quantized to each
/// tensor's type by the reference quantizer (quant::quantizeRow).
///
/// Deterministic: element i of row r of a tensor depends only on (seed, tensor name, r, i),
/// never on the thread count or chunking, and synthesizeRows() recomputes any rows.
/// Fast: rows are generated and quantized in chunks by `threads` workers while the
/// calling thread streams finished chunks to the file in order.

#include "runtime/gguf/GgufMetadata.h"
#include "runtime/gguf/GgufWriter.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace reel {

/// One tensor to synthesize.
struct SynthTensor {
  std::string name;  ///< e.g. "blk.0.attn_q.weight"
  quant::QType type = quant::QType::F32;
  std::vector<int64_t> ne;  ///< ggml order: ne[0] = row length
  float scale = 0.02f;      ///< standard deviation of the values
  float mean = 0.0f;        ///< e.g. 1.0 for norm weights
};

/// A whole synthetic file.
struct SynthSpec {
  /// Written as `general.architecture` (first) unless empty or set in `metadata`.
  std::string arch;
  /// Every other entry, of any GGUF type, in order (`general.alignment` defaults to 32).
  GgufMetadata metadata;
  std::vector<SynthTensor> tensors;
  /// Tensors of given values (e.g. rope_freqs.weight), written after the random ones.
  std::vector<GgufTensorBlob> fixedTensors;
  uint64_t seed = 0;
  /// Worker threads generating and quantizing (the calling thread writes).
  unsigned threads = 2;
};

/// What writeSyntheticGguf did.
struct SynthReport {
  uint64_t fileBytes = 0;
  uint64_t elements = 0;
  double seconds = 0;
};

/// Writes `spec` as a GGUF file at `path`. Throws a reel::Error for a bad spec (naming the
/// tensor) or a failed write; a failed run leaves no file behind.
SynthReport writeSyntheticGguf(const SynthSpec& spec, const std::filesystem::path& path);

/// The size of the file writeSyntheticGguf writes for `spec`, computed without writing
/// any tensor data (so a caller can check it against the free disk space first). Throws a
/// reel::Error for a bad spec, as writeSyntheticGguf does.
[[nodiscard]] uint64_t syntheticGgufBytes(const SynthSpec& spec);

/// The float values (before quantization) of rows [firstRow, firstRow + rowCount) of a
/// tensor, as writeSyntheticGguf generates them: rowCount * ne[0] floats into `out`.
void synthesizeRows(const SynthTensor& tensor, uint64_t seed, int64_t firstRow, int64_t rowCount, float* out);

}  // namespace reel

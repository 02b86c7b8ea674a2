// The GGUF structure-aware mutator (GgufMutator.h): its outputs stay within the size
// limit, are reproducible from the seed, mostly remain well-formed files that differ from
// the input in their metadata or their tensors, and sometimes are patched past what the
// writer allows; input that is not a GGUF file goes to the fallback byte mutator.

#include "tests/fuzz/GgufMutator.h"

#include "runtime/gguf/GgufFile.h"
#include "runtime/gguf/GgufWriter.h"
#include "support/Diagnostics.h"

#include <catch2/catch.hpp>

#include <optional>
#include <vector>

using namespace reel;

namespace {

std::vector<uint8_t> seedFile() {
  GgufMetadata metadata;
  metadata.set("general.architecture", "llama");
  metadata.set("llama.embedding_length", uint32_t{8});
  metadata.set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  metadata.set("tokenizer.ggml.tokens", GgufArray::ofStrings({"<unk>", "<s>", "a", "b"}));
  std::vector<GgufTensorBlob> tensors;
  tensors.push_back({{"token_embd.weight", quant::QType::F32, {8, 4}}, std::vector<uint8_t>(8 * 4 * 4, 0x3c)});
  tensors.push_back({{"blk.0.attn_q.weight", quant::QType::Q8_0, {32, 2}}, std::vector<uint8_t>(2 * 34, 0x11)});
  tensors.push_back({{"output_norm.weight", quant::QType::F32, {8}}, std::vector<uint8_t>(8 * 4, 0)});
  return serializeGguf(metadata, tensors);
}

/// A stand-in for LLVMFuzzerMutate: flips the first byte and counts its calls.
struct CountingFallback {
  int calls = 0;
  fuzz::ByteMutator mutator() {
    return [this](uint8_t* data, size_t size, size_t /*maxSize*/) {
      ++calls;
      if (size > 0) data[0] ^= 0xff;
      return size;
    };
  }
};

std::vector<uint8_t> mutate(const std::vector<uint8_t>& input, size_t maxSize, unsigned seed,
                            const fuzz::ByteMutator& fallback) {
  std::vector<uint8_t> buffer(input);
  buffer.resize(std::max(maxSize, input.size()));
  const size_t size = fuzz::mutateGguf(buffer.data(), input.size(), maxSize, seed, fallback);
  REQUIRE(size <= maxSize);
  buffer.resize(size);
  return buffer;
}

std::optional<GgufFile> tryParse(const std::vector<uint8_t>& bytes) {
  try {
    return GgufFile::fromMemory(bytes, "mutated.gguf");
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool sameTensors(const GgufFile& a, const GgufFile& b) {
  if (a.tensors().size() != b.tensors().size()) return false;
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const GgufTensorInfo& x = a.tensors()[i];
    const GgufTensorInfo& y = b.tensors()[i];
    if (x.name != y.name || x.type != y.type || x.ne != y.ne || x.nDims != y.nDims) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("the GGUF mutator edits metadata and tensors of a well-formed file", "[fuzz]") {
  const std::vector<uint8_t> input = seedFile();
  const GgufFile original = GgufFile::fromMemory(input, "seed.gguf");
  CountingFallback fallback;
  const fuzz::ByteMutator byteMutator = fallback.mutator();
  constexpr unsigned kSeeds = 400;
  unsigned metadataEdits = 0;
  unsigned tensorEdits = 0;
  unsigned unparseable = 0;
  for (unsigned seed = 0; seed < kSeeds; ++seed) {
    const int callsBefore = fallback.calls;
    const std::vector<uint8_t> output = mutate(input, input.size() + 4096, seed, byteMutator);
    if (fallback.calls != callsBefore) continue;  // the byte mutator's share
    std::optional<GgufFile> mutated = tryParse(output);
    if (!mutated) {
      ++unparseable;
    } else {
      metadataEdits += mutated->metadata() == original.metadata() ? 0 : 1;
      tensorEdits += sameTensors(*mutated, original) ? 0 : 1;
    }
  }
  INFO("fallback " << fallback.calls << ", metadata " << metadataEdits << ", tensors " << tensorEdits
                   << ", unparseable " << unparseable);
  // Roughly: a fifth to the fallback, the rest split between metadata and tensor edits,
  // a fifth of those patched raw (mostly unparseable).
  CHECK(fallback.calls > 0);
  CHECK(fallback.calls < static_cast<int>(kSeeds) / 2);
  CHECK(metadataEdits > kSeeds / 8);
  CHECK(tensorEdits > kSeeds / 8);
  CHECK(unparseable > 0);
  CHECK(unparseable < kSeeds / 2);
}

TEST_CASE("the GGUF mutator is reproducible from its seed", "[fuzz]") {
  const std::vector<uint8_t> input = seedFile();
  CountingFallback fallback;
  const fuzz::ByteMutator byteMutator = fallback.mutator();
  unsigned changed = 0;
  for (unsigned seed = 0; seed < 50; ++seed) {
    const std::vector<uint8_t> once = mutate(input, input.size() + 4096, seed, byteMutator);
    CHECK(mutate(input, input.size() + 4096, seed, byteMutator) == once);
    changed += once != input ? 1 : 0;
  }
  CHECK(changed > 40);
}

TEST_CASE("the GGUF mutator keeps its output within the size limit", "[fuzz]") {
  const std::vector<uint8_t> input = seedFile();
  CountingFallback fallback;
  const fuzz::ByteMutator byteMutator = fallback.mutator();
  for (unsigned seed = 0; seed < 200; ++seed) (void)mutate(input, input.size(), seed, byteMutator);
}

TEST_CASE("the GGUF mutator leaves input that does not parse to the fallback", "[fuzz]") {
  const std::vector<uint8_t> input = {'n', 'o', 't', ' ', 'G', 'G', 'U', 'F'};
  CountingFallback fallback;
  const fuzz::ByteMutator byteMutator = fallback.mutator();
  for (unsigned seed = 0; seed < 20; ++seed) {
    const std::vector<uint8_t> output = mutate(input, 64, seed, byteMutator);
    CHECK(output.size() == input.size());
    CHECK(output[0] == ('n' ^ 0xff));
  }
  CHECK(fallback.calls == 20);
}

// libFuzzer's hook for a custom mutator: the GGUF targets mutate through GgufMutator.h,
// which falls back to libFuzzer's own byte mutator (LLVMFuzzerMutate). Linked only into
// the libFuzzer builds of those targets (the replay builds have no LLVMFuzzerMutate).

#include "tests/fuzz/GgufMutator.h"

#include <cstddef>
#include <cstdint>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t maxSize);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t maxSize, unsigned int seed) {
  static const reel::fuzz::ByteMutator fallback = LLVMFuzzerMutate;
  return reel::fuzz::mutateGguf(data, size, maxSize, seed, fallback);
}

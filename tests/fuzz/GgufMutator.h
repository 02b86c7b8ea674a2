#pragma once
/// \file
/// A structure-aware mutator of GGUF files for the fuzz targets that read them. A byte
/// flip in a model file almost always breaks the container, so the layers behind the
/// reader (model config, builder, weight checks, executor) would see little beyond the
/// seeds. This mutator parses its input and changes one thing the file says, keeping the
/// container well formed where the change allows:
///   - metadata: an integer toward a boundary value, a float toward a special one, a
///     string (or an element of a string array), an array's length, a value's type; a key
///     dropped, added (one the config reader knows), renamed or moved;
///   - tensors: a dimension, the rank, the type (the data converted), the name (to one the
///     builder uses), a tensor dropped, duplicated or moved;
/// then writes the file again with the repo's GGUF writer. A share of the mutations then
/// patch the written bytes where the writer cannot go: a tensor's data offset, type id or
/// a dimension out of range, a metadata entry written twice, the header's counts or
/// version. Inputs that do not parse, and a share of those that do, get the fallback
/// (libFuzzer's own byte mutator), so that byte-level exploration goes on too.

#include <cstddef>
#include <cstdint>
#include <functional>

namespace reel::fuzz {

/// A byte-level mutator with LLVMFuzzerMutate's contract: mutates data[0, size) in place
/// within maxSize bytes and returns the new size.
using ByteMutator = std::function<size_t(uint8_t* data, size_t size, size_t maxSize)>;

/// Mutates the GGUF file in data[0, size) in place and returns its new size (at most
/// maxSize). The same input and seed give the same output. Never throws.
size_t mutateGguf(uint8_t* data, size_t size, size_t maxSize, unsigned seed, const ByteMutator& fallback);

}  // namespace reel::fuzz

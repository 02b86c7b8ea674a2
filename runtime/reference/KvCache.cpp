#include "runtime/reference/KvCache.h"

#include "support/SystemMemory.h"

#include "support/Diagnostics.h"

#include <algorithm>

namespace reel::reference {

namespace {

/// Most fp16 values one cache may hold (32 GiB): a bigger request is a mistake.
constexpr int64_t kMaxCacheElems = int64_t{1} << 34;

/// Half of this machine's physical memory in bytes (the most a cache may take), or the
/// cache's own cap where the system does not say.
int64_t memoryForCache() {
  const uint64_t memory = support::physicalMemoryBytes();
  if (memory == 0) return kMaxCacheElems * 2;
  return static_cast<int64_t>(memory / 2);
}

}  // namespace

KvCacheState::KvCacheState(const KvCacheShape& shape) : shape_(shape) {
  const int64_t dims[] = {shape.layers, shape.slots, shape.capacity, shape.kvHeads, shape.headDim};
  int64_t total = 2;
  for (int64_t dim : dims) {
    if (dim <= 0)
      failPlain(
          "KV cache: every dimension must be positive (layers {}, slots {}, capacity {}, kv heads {}, head dim {})",
          shape.layers, shape.slots, shape.capacity, shape.kvHeads, shape.headDim);
    if (total > kMaxCacheElems / dim)
      failPlain("KV cache of {} layers x {} slots x {} positions is too large", shape.layers, shape.slots,
                shape.capacity);
    total *= dim;
  }
  if (const int64_t bytes = total * 2; bytes > memoryForCache())
    failPlain(
        "KV cache of {} layers x {} slots x {} positions needs {:.2f} GiB, more than half of this machine's memory "
        "(use a shorter context or fewer sequences)",
        shape.layers, shape.slots, shape.capacity, static_cast<double>(bytes) / (1 << 30));
  rowElems_ = shape.kvHeads * shape.headDim;
  data_.assign(static_cast<size_t>(total), 0);
}

size_t KvCacheState::offset(int64_t layer, KvPart part, int64_t slot, int64_t position) const {
  if (layer < 0 || layer >= shape_.layers || slot < 0 || slot >= shape_.slots || position < 0 ||
      position >= shape_.capacity)
    failPlain(
        "KV cache: entry (layer {}, slot {}, position {}) is outside the cache ({} layers, {} slots, {} positions)",
        layer, slot, position, shape_.layers, shape_.slots, shape_.capacity);
  const int64_t half = part == KvPart::K ? 0 : 1;
  const int64_t index = ((layer * 2 + half) * shape_.slots + slot) * shape_.capacity + position;
  return static_cast<size_t>(index * rowElems_);
}

uint16_t* KvCacheState::entry(int64_t layer, KvPart part, int64_t slot, int64_t position) {
  return data_.data() + offset(layer, part, slot, position);
}

const uint16_t* KvCacheState::entry(int64_t layer, KvPart part, int64_t slot, int64_t position) const {
  return data_.data() + offset(layer, part, slot, position);
}

void KvCacheState::clearSlot(int64_t slot) {
  for (int64_t layer = 0; layer < shape_.layers; ++layer)
    for (KvPart part : {KvPart::K, KvPart::V}) {
      uint16_t* first = entry(layer, part, slot, 0);
      std::fill(first, first + shape_.capacity * rowElems_, uint16_t{0});
    }
}

}  // namespace reel::reference

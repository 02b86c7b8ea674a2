#pragma once
/// \file
/// The KV cache of the CPU reference: per layer, a K and a V array of fp16 values,
/// [slots][capacity][kvHeads][headDim]. A slot holds one sequence; its state persists
/// across steps. Values are stored as fp16 bits, rounded when appended, as on the GPU.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace reel::reference {

/// The dimensions of a KV cache.
struct KvCacheShape {
  int64_t layers = 0;
  int64_t slots = 1;     ///< sequences held at once
  int64_t capacity = 0;  ///< positions per sequence (the graph's S)
  int64_t kvHeads = 0;
  int64_t headDim = 0;
};

/// Which half of a layer's cache.
enum class KvPart : uint8_t { K, V };

class KvCacheState {
 public:
  /// Allocates a zeroed cache; throws reel::Error for a non-positive dim or a cache too big
  /// to address.
  explicit KvCacheState(const KvCacheShape& shape);

  [[nodiscard]] const KvCacheShape& shape() const { return shape_; }
  /// The kvHeads * headDim fp16 values at (layer, part, slot, position).
  [[nodiscard]] uint16_t* entry(int64_t layer, KvPart part, int64_t slot, int64_t position);
  [[nodiscard]] const uint16_t* entry(int64_t layer, KvPart part, int64_t slot, int64_t position) const;
  /// Zeroes every entry of one slot (a sequence leaves).
  void clearSlot(int64_t slot);

 private:
  [[nodiscard]] size_t offset(int64_t layer, KvPart part, int64_t slot, int64_t position) const;

  KvCacheShape shape_;
  int64_t rowElems_ = 0;  ///< kvHeads * headDim
  std::vector<uint16_t> data_;
};

}  // namespace reel::reference

#include "runtime/gpu/WeightUpload.h"

#include "codegen/PlanCheck.h"
#include "kernels/Blas.h"
#include "quant/QuantRef.h"
#include "runtime/gpu/CudaCheck.h"
#include "runtime/gpu/ProgressBar.h"
#include "runtime/gpu/StagedCopy.h"
#include "support/Diagnostics.h"
#include "support/Parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

namespace reel::gpu {

namespace {

using codegen::WeightLayout;
using codegen::WeightSlot;
using quant::QType;

constexpr size_t kStagingBytes = size_t{64} << 20;
constexpr int64_t kProgressMinBytes = 1'000'000'000;

int64_t alignUp(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

/// Bytes of one row in the pinned staging buffer (FP8 rows are staged as f32).
size_t stagedRowBytes(const WeightSlot& slot, QType type) {
  switch (slot.layout) {
    case WeightLayout::Gguf:
      return quant::rowBytes(type, slot.cols);
    case WeightLayout::RowPlanar:
      return quant::planarRowBytes(type, slot.cols);
    case WeightLayout::F16:
      return static_cast<size_t>(slot.cols) * 2;
    case WeightLayout::F32:
    case WeightLayout::Fp8PerRow:
      return static_cast<size_t>(slot.cols) * 4;
  }
  return 0;
}

/// The file's tensor of `slot`, checked against what the plan was compiled for.
const GgufTensorInfo& tensorOf(const GgufFile& file, const WeightSlot& slot) {
  const GgufTensorInfo* info = file.findTensor(slot.tensor);
  if (!info) failPlain("{}: the plan needs tensor '{}', which the file lacks", file.name(), slot.tensor);
  if (quant::qtypeName(info->type) != slot.qtype)
    failPlain("{}: tensor '{}' is {} in the file, the plan was compiled for {} (compile the plan for these weights)",
              file.name(), slot.tensor, quant::qtypeName(info->type), slot.qtype);
  if (info->nDims > 2)
    failPlain("{}: tensor '{}' has {} dimensions in the file, the plan expects a {} x {} matrix", file.name(),
              slot.tensor, info->nDims, slot.rows, slot.cols);
  if (info->ne[0] != slot.cols || info->rowCount() != slot.rows)
    failPlain("{}: tensor '{}' is {} x {} (rows x cols) in the file, the plan expects {} x {}", file.name(),
              slot.tensor, info->rowCount(), info->ne[0], slot.rows, slot.cols);
  return *info;
}

/// One slot's rows converted into its staged layout, `count` rows from `first` into `out`.
struct RowConversion {
  const WeightSlot& slot;
  QType type;
  const uint8_t* data;  ///< the GGUF rows
  unsigned threads;

  void run(int64_t first, int64_t count, uint8_t* out) const {
    const size_t inRow = quant::rowBytes(type, slot.cols);
    const size_t outRow = stagedRowBytes(slot, type);
    support::parallelFor(count, threads, count * slot.cols, [&](int64_t begin, int64_t end) {
      const uint8_t* in = data + static_cast<size_t>(first + begin) * inRow;
      uint8_t* dst = out + static_cast<size_t>(begin) * outRow;
      convert(in, dst, end - begin);
    });
  }

 private:
  void convert(const uint8_t* in, uint8_t* out, int64_t rows) const {
    const size_t inRow = quant::rowBytes(type, slot.cols);
    switch (slot.layout) {
      case WeightLayout::Gguf:
        std::memcpy(out, in, static_cast<size_t>(rows) * inRow);
        return;
      case WeightLayout::RowPlanar:
        quant::repackRowPlanar(type, in, out, rows, slot.cols);
        return;
      case WeightLayout::F32:
      case WeightLayout::Fp8PerRow:
        for (int64_t r = 0; r < rows; ++r)
          quant::dequantizeRow(type, in + r * inRow, reinterpret_cast<float*>(out) + r * slot.cols, slot.cols);
        return;
      case WeightLayout::F16: {
        std::vector<float> row(static_cast<size_t>(slot.cols));
        auto* halves = reinterpret_cast<uint16_t*>(out);
        for (int64_t r = 0; r < rows; ++r) {
          quant::dequantizeRow(type, in + r * inRow, row.data(), slot.cols);
          for (int64_t i = 0; i < slot.cols; ++i)
            halves[r * slot.cols + i] = quant::f32ToF16(row[static_cast<size_t>(i)]);
        }
        return;
      }
    }
  }
};

/// Uploads the slots one after the other through the staging buffers.
class Uploader {
 public:
  Uploader(const WeightUploadRequest& request, size_t chunkBytes)
      : request_(request),
        staging_(request.stream, chunkBytes),
        threads_(std::max(1u, std::thread::hardware_concurrency())) {}

  void upload(const WeightSlot& slot, uint8_t* device, ProgressBar& progress) {
    const GgufTensorInfo& info = tensorOf(*request_.file, slot);
    const RowConversion conversion{slot, info.type, request_.file->tensorData(info).data(), threads_};
    const size_t rowBytes = stagedRowBytes(slot, info.type);
    const int64_t chunkRows = std::max<int64_t>(1, static_cast<int64_t>(staging_.chunkBytes() / rowBytes));
    for (int64_t first = 0; first < slot.rows; first += chunkRows) {
      const int64_t count = std::min(chunkRows, slot.rows - first);
      uint8_t* host = staging_.acquire();
      conversion.run(first, count, host);
      const size_t bytes = static_cast<size_t>(count) * rowBytes;
      if (slot.layout == WeightLayout::Fp8PerRow) {
        staging_.submit(fp8Staging().get(), bytes);
        convertToFp8(slot, device, first, count);
      } else {
        staging_.submit(device + static_cast<size_t>(first) * rowBytes, bytes);
      }
      progress.advance(slot.bytes * count / slot.rows);
    }
  }

  void finish() { staging_.finish(); }

 private:
  DeviceBuffer& fp8Staging() {
    if (!fp8Staging_) fp8Staging_ = DeviceBuffer(staging_.chunkBytes(), "fp8 conversion staging", request_.ledger);
    return fp8Staging_;
  }

  /// E4M3 rows [first, first + count) and their scales from the f32 rows in fp8Staging().
  void convertToFp8(const WeightSlot& slot, uint8_t* device, int64_t first, int64_t count) {
    kernels::Fp8ConvertArgs args;
    args.in = fp8Staging().get();
    args.out = device + first * slot.cols;
    args.scales = reinterpret_cast<float*>(device + alignUp(slot.rows * slot.cols, 256)) + first;
    args.n = count;
    args.k = slot.cols;
    args.perRow = true;
    checkCuda(kernels::launchFp8ConvertWeights(args, request_.stream),
              fmt::format("converting '{}' to FP8", slot.tensor));
  }

  const WeightUploadRequest& request_;
  StagedCopy staging_;
  unsigned threads_;
  DeviceBuffer fp8Staging_;
};

bool isNeeded(const WeightUploadRequest& request, size_t slot) {
  return request.neededSlots.empty() || (slot < request.neededSlots.size() && request.neededSlots[slot]);
}

}  // namespace

DeviceWeights uploadWeights(const WeightUploadRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<WeightSlot>& slots = request.plan->weights;
  DeviceWeights weights;
  weights.slots.resize(slots.size());
  size_t largestRow = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!isNeeded(request, i)) continue;
    const GgufTensorInfo& info = tensorOf(*request.file, slots[i]);
    largestRow = std::max(largestRow, stagedRowBytes(slots[i], info.type));
    if (slots[i].bytes != codegen::weightLayoutBytes(slots[i]))
      failPlain("plan of {}: weight slot {} '{}' claims {} bytes, its {} layout takes {}", request.plan->model, i,
                slots[i].tensor, slots[i].bytes, codegen::weightLayoutName(slots[i].layout),
                codegen::weightLayoutBytes(slots[i]));
    weights.bytes += slots[i].bytes;
  }
  // Allocate everything first: running out of memory shows before minutes of conversion, for
  // all the weights at once (the ledger's cap, then what the GPU has free).
  const std::string action = "allocating the weights";
  if (request.ledger) request.ledger->checkFits(action, static_cast<size_t>(weights.bytes));
  if (static_cast<size_t>(weights.bytes) > freeGpuBytes())
    failPlain("{}", describeOutOfGpuMemory(action, static_cast<size_t>(weights.bytes), request.ledger));
  for (size_t i = 0; i < slots.size(); ++i)
    if (isNeeded(request, i))
      weights.slots[i] = DeviceBuffer(static_cast<size_t>(slots[i].bytes), "weights", request.ledger);

  Uploader uploader(request, std::max(kStagingBytes, largestRow));
  ProgressBar progress("uploading weights", weights.bytes, request.progress && weights.bytes >= kProgressMinBytes);
  for (size_t i = 0; i < slots.size(); ++i)
    if (isNeeded(request, i)) uploader.upload(slots[i], weights.slots[i].bytes(), progress);
  uploader.finish();
  weights.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return weights;
}

}  // namespace reel::gpu

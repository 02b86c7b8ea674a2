#include "runtime/gpu/DeviceMemory.h"

#include "support/FormatBytes.h"

#include "runtime/gpu/CudaCheck.h"
#include "support/Diagnostics.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <utility>

namespace reel::gpu {

namespace {

std::atomic<size_t> liveBufferBytes{0};

std::string bytesText(size_t bytes) {
  return support::formatBinaryBytes(static_cast<double>(bytes));
}

}  // namespace

void MemoryLedger::checkFits(std::string_view action, size_t bytes) const {
  if (limit_ == 0) return;
  const size_t headroom = total_ < limit_ ? limit_ - total_ : 0;
  if (bytes <= headroom) return;
  failPlain("out of GPU memory {} ({}): {} free of the {} limit (--gpu-memory-limit)", action, bytesText(bytes),
            bytesText(headroom), bytesText(limit_));
}

void MemoryLedger::add(const std::string& label, size_t bytes) {
  bytes_[label] += bytes;
  total_ += bytes;
}

void MemoryLedger::remove(const std::string& label, size_t bytes) {
  bytes_[label] -= bytes;
  total_ -= bytes;
}

size_t MemoryLedger::bytesOf(const std::string& label) const {
  auto found = bytes_.find(label);
  return found == bytes_.end() ? 0 : found->second;
}

std::string MemoryLedger::describe() const {
  std::string out;
  for (const auto& [label, bytes] : bytes_) {
    if (bytes == 0) continue;
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", label, bytesText(bytes));
  }
  size_t freeBytes = 0;
  size_t totalBytes = 0;
  checkCuda(cudaMemGetInfo(&freeBytes, &totalBytes), "asking the GPU for its free memory");
  const std::string cap = limit_ > 0 ? fmt::format(" of the {} limit", bytesText(limit_)) : "";
  return fmt::format("{} (total {}{}; GPU: {} free of {})", out, bytesText(total()), cap, bytesText(freeBytes),
                     bytesText(totalBytes));
}

std::string describeOutOfGpuMemory(std::string_view action, size_t bytes, const MemoryLedger* ledger) {
  (void)cudaGetLastError();  // clear the error so that later calls are not blamed for it
  size_t freeBytes = 0;
  size_t totalBytes = 0;
  const bool known = cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess;
  const std::string size = bytes > 0 ? fmt::format(" ({})", bytesText(bytes)) : "";
  const std::string held = bytesText(ledger ? ledger->total() : 0);
  if (!known) return fmt::format("out of GPU memory {}{}; reel holds {}", action, size, held);
  return fmt::format("out of GPU memory {}{}: the GPU has {} free of {}; reel holds {}", action, size,
                     bytesText(freeBytes), bytesText(totalBytes), held);
}

size_t freeGpuBytes() {
  size_t freeBytes = 0;
  size_t totalBytes = 0;
  checkCuda(cudaMemGetInfo(&freeBytes, &totalBytes), "asking the GPU for its free memory");
  return freeBytes;
}

size_t liveDeviceBufferBytes() {
  return liveBufferBytes.load();
}

DeviceBuffer::DeviceBuffer(size_t bytes, std::string label, MemoryLedger* ledger)
    : size_(std::max<size_t>(bytes, 1)), label_(std::move(label)), ledger_(ledger) {
  const std::string action = "allocating the " + label_;
  if (ledger_) ledger_->checkFits(action, size_);
  const cudaError_t status = cudaMalloc(&ptr_, size_);
  if (status == cudaErrorMemoryAllocation) {
    ptr_ = nullptr;
    failPlain("{}", describeOutOfGpuMemory(action, size_, ledger_));
  }
  if (status != cudaSuccess) ptr_ = nullptr;
  checkCuda(status, fmt::format("allocating {} of GPU memory for the {}", bytesText(size_), label_));
  liveBufferBytes += size_;
  if (ledger_) ledger_->add(label_, size_);
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, nullptr);
    size_ = std::exchange(other.size_, 0);
    label_ = std::move(other.label_);
    ledger_ = std::exchange(other.ledger_, nullptr);
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (!ptr_) return;
  (void)cudaFree(ptr_);
  liveBufferBytes -= size_;
  if (ledger_) ledger_->remove(label_, size_);
  ptr_ = nullptr;
  size_ = 0;
}

DriverMemory::DriverMemory(size_t freeBefore, std::string label, std::string_view action, MemoryLedger* ledger)
    : label_(std::move(label)) {
  const size_t freeAfter = freeGpuBytes();
  const size_t lost = freeBefore > freeAfter ? freeBefore - freeAfter : 0;
  if (!ledger || lost == 0) return;
  ledger->checkFits(action, lost);
  ledger->add(label_, lost);
  size_ = lost;
  ledger_ = ledger;
}

DriverMemory& DriverMemory::operator=(DriverMemory&& other) noexcept {
  if (this != &other) {
    release();
    size_ = std::exchange(other.size_, 0);
    label_ = std::move(other.label_);
    ledger_ = std::exchange(other.ledger_, nullptr);
  }
  return *this;
}

void DriverMemory::release() noexcept {
  if (ledger_) ledger_->remove(label_, size_);
  ledger_ = nullptr;
  size_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : size_(std::max<size_t>(bytes, 1)) {
  checkCuda(cudaMallocHost(&ptr_, size_),
            fmt::format("allocating {} of pinned host memory", support::formatBinaryBytes(static_cast<double>(size_))));
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void PinnedBuffer::release() noexcept {
  if (ptr_) (void)cudaFreeHost(ptr_);
  ptr_ = nullptr;
  size_ = 0;
}

CudaStream::CudaStream() {
  checkCuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a CUDA stream");
}

CudaStream::~CudaStream() {
  (void)cudaStreamSynchronize(stream_);
  (void)cudaStreamDestroy(stream_);
}

}  // namespace reel::gpu

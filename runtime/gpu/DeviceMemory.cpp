#include "runtime/gpu/DeviceMemory.h"

#include "ir/Diagnostics.h"
#include "runtime/gpu/CudaCheck.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace reel::gpu {

size_t MemoryLedger::total() const {
  size_t sum = 0;
  for (const auto& [label, bytes] : bytes_) sum += bytes;
  return sum;
}

std::string MemoryLedger::describe() const {
  std::string out;
  for (const auto& [label, bytes] : bytes_) {
    if (bytes == 0) continue;
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", label, formatBytes(static_cast<double>(bytes)));
  }
  size_t freeBytes = 0;
  size_t totalBytes = 0;
  checkCuda(cudaMemGetInfo(&freeBytes, &totalBytes), "asking the GPU for its free memory");
  return fmt::format("{} (total {}; GPU: {} free of {})", out, formatBytes(static_cast<double>(total())),
                     formatBytes(static_cast<double>(freeBytes)), formatBytes(static_cast<double>(totalBytes)));
}

DeviceBuffer::DeviceBuffer(size_t bytes, std::string label, MemoryLedger* ledger)
    : size_(std::max<size_t>(bytes, 1)), label_(std::move(label)), ledger_(ledger) {
  const cudaError_t status = cudaMalloc(&ptr_, size_);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the error so that later calls are not blamed for it
    size_t freeBytes = 0;
    size_t totalBytes = 0;
    (void)cudaMemGetInfo(&freeBytes, &totalBytes);
    ptr_ = nullptr;
    failPlain("out of GPU memory: the {} need {}, the GPU has {} free of {}; reel already holds {}", label_,
              formatBytes(static_cast<double>(size_)), formatBytes(static_cast<double>(freeBytes)),
              formatBytes(static_cast<double>(totalBytes)),
              formatBytes(static_cast<double>(ledger_ ? ledger_->total() : 0)));
  }
  checkCuda(status,
            fmt::format("allocating {} of GPU memory for the {}", formatBytes(static_cast<double>(size_)), label_));
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
  if (ledger_) ledger_->remove(label_, size_);
  ptr_ = nullptr;
  size_ = 0;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : size_(std::max<size_t>(bytes, 1)) {
  checkCuda(cudaMallocHost(&ptr_, size_),
            fmt::format("allocating {} of pinned host memory", formatBytes(static_cast<double>(size_))));
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

#pragma once
/// \file
/// Owned GPU and pinned host memory. Every allocation is labelled and counted in a
/// MemoryLedger, so the runtime can report what it uses, and running out of memory is a
/// one-line reel::Error with the sizes: what was asked for, what the GPU has free, and what
/// reel already holds.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace reel::gpu {

/// Bytes allocated per label ("weights", "kv cache", ...), for the memory report.
class MemoryLedger {
 public:
  void add(const std::string& label, size_t bytes) { bytes_[label] += bytes; }
  void remove(const std::string& label, size_t bytes) { bytes_[label] -= bytes; }
  [[nodiscard]] size_t total() const;
  [[nodiscard]] const std::map<std::string, size_t>& byLabel() const { return bytes_; }
  /// "weights 3.86 GiB, kv cache 512.0 MiB, ... (total 4.51 GiB; GPU: 70.1 GiB free of 79.1 GiB)".
  [[nodiscard]] std::string describe() const;

 private:
  std::map<std::string, size_t> bytes_;
};

/// Device memory from cudaMalloc, freed on destruction (move-only).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// Allocates `bytes` (at least 1); throws a reel::Error naming `label` and the sizes when the
  /// GPU has too little memory. `ledger` (may be null) must outlive the buffer.
  DeviceBuffer(size_t bytes, std::string label, MemoryLedger* ledger);
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  [[nodiscard]] void* get() const { return ptr_; }
  [[nodiscard]] uint8_t* bytes() const { return static_cast<uint8_t*>(ptr_); }
  [[nodiscard]] size_t size() const { return size_; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  void release() noexcept;

  void* ptr_ = nullptr;
  size_t size_ = 0;
  std::string label_;
  MemoryLedger* ledger_ = nullptr;
};

/// Page-locked host memory from cudaMallocHost (for asynchronous copies), move-only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  PinnedBuffer(PinnedBuffer&& other) noexcept { *this = std::move(other); }
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { release(); }

  template <typename T>
  [[nodiscard]] T* as() const {
    return static_cast<T*>(ptr_);
  }
  [[nodiscard]] size_t size() const { return size_; }

 private:
  void release() noexcept;

  void* ptr_ = nullptr;
  size_t size_ = 0;
};

/// A non-blocking CUDA stream, synchronized and destroyed on destruction.
class CudaStream {
 public:
  CudaStream();
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  ~CudaStream();
  [[nodiscard]] cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace reel::gpu

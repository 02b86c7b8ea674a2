#pragma once
/// \file
/// Owned GPU and pinned host memory. Every device allocation is labelled and counted in a
/// MemoryLedger, which also holds the cap of RuntimeOptions::gpuMemoryLimit: an allocation past
/// the cap is refused before cudaMalloc, and running out of memory (the cap's or the GPU's) is a
/// one-line reel::Error naming what did not fit, its size and what was free. Memory that cuBLAS
/// or the driver allocate inside their own calls (handles, instantiated CUDA graphs) is measured
/// as the drop in the GPU's free memory and counted too (DriverMemory).

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace reel::gpu {

/// Bytes allocated per label ("weights", "KV cache", ...), for the memory report, and the cap.
class MemoryLedger {
 public:
  MemoryLedger() = default;
  /// `limit`: the most bytes the allocations counted here may hold together (0: no cap).
  explicit MemoryLedger(size_t limit) : limit_(limit) {}
  MemoryLedger(const MemoryLedger&) = delete;
  MemoryLedger& operator=(const MemoryLedger&) = delete;

  /// Throws "out of GPU memory <action> (<bytes>): <free> free of the <limit> limit
  /// (--gpu-memory-limit)" when `bytes` more would pass the cap. `action`: "allocating the KV cache".
  void checkFits(std::string_view action, size_t bytes) const;
  void add(const std::string& label, size_t bytes);
  void remove(const std::string& label, size_t bytes);
  [[nodiscard]] size_t total() const { return total_; }
  [[nodiscard]] size_t limit() const { return limit_; }
  /// Bytes of `label` (0 when none).
  [[nodiscard]] size_t bytesOf(const std::string& label) const;
  [[nodiscard]] const std::map<std::string, size_t>& byLabel() const { return bytes_; }
  /// "weights 3.86 GiB, kv cache 512.0 MiB, ... (total 4.51 GiB; GPU: 70.1 GiB free of 79.1 GiB)".
  [[nodiscard]] std::string describe() const;

 private:
  std::map<std::string, size_t> bytes_;
  size_t total_ = 0;
  size_t limit_ = 0;
};

/// "out of GPU memory <action> (<bytes>): the GPU has <free> free of <total>; reel holds <the
/// ledger's total>" (the size left out when 0, unknown), after clearing CUDA's last error: the
/// message of CUDA's own out-of-memory failures (cudaErrorMemoryAllocation). `ledger` may be null.
std::string describeOutOfGpuMemory(std::string_view action, size_t bytes, const MemoryLedger* ledger);

/// The GPU's free bytes (cudaMemGetInfo), checked.
size_t freeGpuBytes();

/// Bytes held by the live DeviceBuffers of this process (tests: nothing leaks on an error path).
size_t liveDeviceBufferBytes();

/// Device memory from cudaMalloc, freed on destruction (move-only).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  /// Allocates `bytes` (at least 1); throws a reel::Error naming `label` and the sizes when the
  /// ledger's cap or the GPU has too little memory. `ledger` (may be null) must outlive the buffer.
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

/// Device memory that cuBLAS or the driver allocates inside calls reel makes (handle creation,
/// graph instantiation and upload): the drop in the GPU's free memory across those calls,
/// counted in the ledger under a label while this object lives. Approximate where other
/// processes allocate on the same GPU at the same time (a rise in free memory counts as 0).
class DriverMemory {
 public:
  DriverMemory() = default;
  /// Counts what the GPU lost since `freeBefore` (freeGpuBytes() before the calls) under
  /// `label`. Throws the out-of-memory error of MemoryLedger::checkFits (`action` names what
  /// allocated) when that passes the ledger's cap; the caller then frees what the calls made.
  DriverMemory(size_t freeBefore, std::string label, std::string_view action, MemoryLedger* ledger);
  DriverMemory(DriverMemory&& other) noexcept { *this = std::move(other); }
  DriverMemory& operator=(DriverMemory&& other) noexcept;
  DriverMemory(const DriverMemory&) = delete;
  DriverMemory& operator=(const DriverMemory&) = delete;
  ~DriverMemory() { release(); }

  [[nodiscard]] size_t size() const { return size_; }

 private:
  void release() noexcept;

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

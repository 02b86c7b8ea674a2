#pragma once
// Helpers of the kernel GPU tests: device buffers, poisoning, launching through the registry,
// fresh random inputs and error metrics.
#include "kernels/KernelRegistry.h"

#include <cuda_runtime_api.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace reel::test {

#define CUDA_REQUIRE(expr)                         \
  do {                                             \
    const cudaError_t status_ = (expr);            \
    INFO("CUDA: " << cudaGetErrorString(status_)); \
    REQUIRE(status_ == cudaSuccess);               \
  } while (0)

/// Typed device memory; poison() fills it with 0xFF bytes (NaN for floats).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) : count_(count) {
    CUDA_REQUIRE(cudaMalloc(reinterpret_cast<void**>(&ptr_), bytes() == 0 ? 1 : bytes()));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  T* get() const { return ptr_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }
  void upload(const std::vector<T>& host) {
    REQUIRE(host.size() == count_);
    CUDA_REQUIRE(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    CUDA_REQUIRE(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }
  /// Synchronous: cudaMemset runs on the legacy stream, which the tests' non-blocking streams
  /// do not wait for, so work queued there next could otherwise run before the poison lands.
  void poison() {
    CUDA_REQUIRE(cudaMemset(ptr_, 0xFF, bytes()));
    CUDA_REQUIRE(cudaDeviceSynchronize());
  }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

/// One launch through the catalog + registry, as codegen and the runtime do it.
struct Launch {
  std::string id;
  std::vector<void*> ptrs;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  void* library = nullptr;
};

/// Launches, synchronizes, returns the first error.
inline cudaError_t run(const Launch& l) {
  kernels::KernelArgs args;
  for (size_t i = 0; i < l.ptrs.size(); ++i) args.ptrs[i] = l.ptrs[i];
  for (size_t i = 0; i < l.ints.size(); ++i) args.ints[i] = l.ints[i];
  for (size_t i = 0; i < l.floats.size(); ++i) args.floats[i] = l.floats[i];
  args.library = l.library;
  const kernels::LaunchDims dims = kernels::kernelDims(l.id, args.ints.data());
  const cudaError_t status = kernels::launchKernel(l.id, dims, args, nullptr);
  const cudaError_t sync = cudaDeviceSynchronize();
  return status != cudaSuccess ? status : sync;
}

/// A fresh seed per call (reported on failure through Catch's INFO in the caller).
inline uint32_t freshSeed() {
  static std::random_device device;
  return device();
}

inline std::vector<float> randomFloats(size_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

/// ||a - b|| / ||b||, infinite when any value of a is not finite.
inline double relL2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return den == 0.0 ? std::sqrt(num) : std::sqrt(num / den);
}

inline double maxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  return m;
}

}  // namespace reel::test

// Catch2 main of the GPU tests: exits 77 (ctest's SKIP_RETURN_CODE) where no CUDA device
// is usable, so CI without a GPU reports these tests as skipped, never as failed.
#define CATCH_CONFIG_RUNNER
#include <cuda_runtime.h>
#include <catch2/catch.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    std::printf("no usable CUDA device (%s): skipping GPU tests\n",
                status == cudaSuccess ? "none found" : cudaGetErrorString(status));
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

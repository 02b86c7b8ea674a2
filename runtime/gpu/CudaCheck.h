#pragma once
/// \file
/// Checking CUDA calls: every runtime call of the GPU path goes through checkCuda, which turns
/// a failure into a one-line reel::Error naming what was being done and the CUDA error.

#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

namespace reel::gpu {

/// Throws a reel::Error "<what>: <cudaErrorName>: <description>" unless status is cudaSuccess.
/// A sticky error (the context is unusable afterwards) says so.
void checkCuda(cudaError_t status, std::string_view what);

}  // namespace reel::gpu

#pragma once
/// \file
/// The CUDA side of the kernel catalog: each catalog id maps to a launcher that unpacks
/// KernelArgs (in the catalog's order) into the typed launch APIs. The runtime resolves ids once
/// when it loads a plan, then calls the launchers while capturing its CUDA graphs.

#include "kernels/KernelCatalog.h"

#include <cuda_runtime_api.h>

#include <string_view>

namespace reel::kernels {

/// A resolved kernel: call it with the dims codegen recorded and the bound arguments.
/// Plain kernels check that `dims` equal the catalog's dims for the int args
/// (cudaErrorInvalidConfiguration otherwise); library steps need KernelArgs::library.
struct Launcher {
  const KernelInfo* info = nullptr;
  cudaError_t (*fn)(const KernelArgs& args, cudaStream_t stream) = nullptr;

  cudaError_t operator()(const LaunchDims& dims, const KernelArgs& args, cudaStream_t stream) const;
  explicit operator bool() const { return fn != nullptr; }
};

/// The launcher of `id` (empty when the id is unknown).
Launcher findLauncher(std::string_view id);

/// Looks `id` up and launches it: cudaErrorInvalidSymbol for an unknown id,
/// cudaErrorInvalidValue when the catalog's check rejects the int args.
cudaError_t launchKernel(std::string_view id, const LaunchDims& dims, const KernelArgs& args, cudaStream_t stream);

}  // namespace reel::kernels

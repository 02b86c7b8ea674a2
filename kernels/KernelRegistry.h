#pragma once
/// \file
/// The CUDA side of the kernel catalog: each catalog id maps to a launcher that unpacks
/// KernelArgs into the id's typed signature (kernels/KernelArgs.h) and calls the launch API. The runtime resolves ids
/// once when it loads a plan, then calls the launchers while capturing its CUDA graphs.

#include "kernels/KernelCatalog.h"

#include <cuda_runtime_api.h>

#include <string>
#include <string_view>
#include <vector>

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

/// The launcher of `id` (empty when the id is unknown, or when the launcher bound to it reads
/// another typed signature than the catalog's entry).
Launcher findLauncher(std::string_view id);
/// Every id the registry binds a launcher to, in its order (tests hold it to the catalog).
std::vector<std::string> registeredKernelIds();

/// Looks `id` up and launches it: cudaErrorInvalidSymbol for an unknown id,
/// cudaErrorInvalidValue when the catalog's check rejects the int args.
cudaError_t launchKernel(std::string_view id, const LaunchDims& dims, const KernelArgs& args, cudaStream_t stream);

}  // namespace reel::kernels

#include "runtime/gpu/CudaCheck.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

namespace reel::gpu {

namespace {

/// Errors after which the CUDA context cannot be used again (the process must restart).
bool isSticky(cudaError_t status) {
  switch (status) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorHardwareStackError:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
      return true;
    default:
      return false;
  }
}

}  // namespace

void checkCuda(cudaError_t status, std::string_view what) {
  if (status == cudaSuccess) return;
  failPlain("{}: {}: {}{}", what, cudaGetErrorName(status), cudaGetErrorString(status),
            isSticky(status) ? " (the GPU context is lost; nothing more can run in this process)" : "");
}

}  // namespace reel::gpu

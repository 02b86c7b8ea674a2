#include "runtime/gpu/CudaCheck.h"

#include "ir/Diagnostics.h"

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

std::string formatBytes(double bytes) {
  constexpr double kKiB = 1024.0;
  if (bytes >= kKiB * kKiB * kKiB) return fmt::format("{:.2f} GiB", bytes / (kKiB * kKiB * kKiB));
  if (bytes >= kKiB * kKiB) return fmt::format("{:.1f} MiB", bytes / (kKiB * kKiB));
  if (bytes >= kKiB) return fmt::format("{:.1f} KiB", bytes / kKiB);
  return fmt::format("{:.0f} B", bytes);
}

}  // namespace reel::gpu

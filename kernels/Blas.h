#pragma once
/// \file
/// Library paths: FP8 (E4M3 weight conversion, activation quantizer, cuBLASLt FP8 GEMM) and
/// HGEMM (cuBLAS GemmEx, f16 inputs, f32 accumulate and output). The BLAS calls take a context
/// holding the handles and a caller-owned workspace, so they can be captured in CUDA graphs
/// (no allocation or heuristic query happens while capturing once a shape has run eagerly).

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

struct cublasContext;
struct cublasLtContext;

namespace reel::kernels {

/// Handles, workspace and the per-shape cuBLASLt plans. Create with createBlasContext.
struct BlasContext {
  cublasContext* blas = nullptr;  ///< cublasHandle_t
  cublasLtContext* lt = nullptr;  ///< cublasLtHandle_t
  void* workspace = nullptr;      ///< device memory owned by the caller
  size_t workspaceBytes = 0;
  struct PlanCache;
  PlanCache* plans = nullptr;  ///< cached FP8 matmul descriptors and algorithms
  int lastBlasStatus = 0;      ///< the last failing cublasStatus_t (0 = none)
};

/// Creates the handles; workspace (>= 32 MiB recommended on Hopper) stays owned by the caller.
cudaError_t createBlasContext(BlasContext& ctx, void* workspace, size_t workspaceBytes);
void destroyBlasContext(BlasContext& ctx);

/// Converts weights (f32 or f16, [n][k]) to E4M3 with scales amax/448 (per row or per tensor):
/// out = sat(w / scale); scales receives the dequantization scales. Several launches and a
/// memset: a load-time operation, not for capture.
struct Fp8ConvertArgs {
  const void* in = nullptr;
  bool inIsF16 = false;
  uint8_t* out = nullptr;
  float* scales = nullptr;  ///< [n] (perRow) or [1]
  int64_t n = 0, k = 0;
  bool perRow = true;
};
cudaError_t launchFp8ConvertWeights(const Fp8ConvertArgs& args, cudaStream_t stream);

/// Quantizes activations x [m][k] to E4M3 with one dynamic scale amax/448 (written to *scale;
/// 1 when x is all zeros). One block: meant for decode-sized m.
cudaError_t launchFp8QuantizeAct(const float* x, uint8_t* out, float* scale, int64_t m, int64_t k, cudaStream_t stream);

/// out [m][n] f32 = (act * actScale) (w * wScales)^T, w E4M3 [n][k], act E4M3 [m][k].
struct Fp8GemmArgs {
  const uint8_t* w = nullptr;
  const float* wScales = nullptr;  ///< device: [n] (perRow) or [1]
  const uint8_t* act = nullptr;
  const float* actScale = nullptr;  ///< device [1]
  float* out = nullptr;
  int64_t m = 0, n = 0, k = 0;  ///< n, k multiples of 16
  bool perRow = false;
};
cudaError_t fp8Gemm(BlasContext& ctx, const Fp8GemmArgs& args, cudaStream_t stream);

/// out [m][n] f32 = x [m][k] (f16) * w [n][k]^T (f16), f32 accumulation.
struct HgemmArgs {
  const void* w = nullptr;
  const void* x = nullptr;
  float* out = nullptr;
  int64_t m = 0, n = 0, k = 0;
};
cudaError_t hgemm(BlasContext& ctx, const HgemmArgs& args, cudaStream_t stream);

}  // namespace reel::kernels

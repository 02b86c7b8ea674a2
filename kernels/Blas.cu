// cuBLASLt FP8 GEMM and cuBLAS HGEMM wrappers (every status checked).
#include "kernels/Blas.h"
#include "kernels/CudaCommon.cuh"

#include <cublasLt.h>
#include <cublas_v2.h>

#include <vector>

namespace reel::kernels {

/// One cached FP8 matmul: descriptors and the algorithm of a (m, n, k, perRow) shape.
struct BlasContext::PlanCache {
  struct Plan {
    int64_t m, n, k;
    bool perRow;
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  std::vector<Plan> plans;
};

namespace {

/// Maps a cuBLAS status to a cudaError_t (the raw status is kept in the context).
cudaError_t blasError(BlasContext& ctx, cublasStatus_t s) {
  if (s == CUBLAS_STATUS_SUCCESS) return cudaSuccess;
  ctx.lastBlasStatus = static_cast<int>(s);
  switch (s) {
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return cudaErrorNotSupported;
    case CUBLAS_STATUS_INVALID_VALUE:
      return cudaErrorInvalidValue;
    case CUBLAS_STATUS_ALLOC_FAILED:
      return cudaErrorMemoryAllocation;
    default:
      return cudaErrorUnknown;
  }
}

#define REEL_BLAS_TRY(ctx, expr)                                                     \
  do {                                                                               \
    if (const cudaError_t e_ = blasError(ctx, (expr)); e_ != cudaSuccess) return e_; \
  } while (0)

void destroyPlan(BlasContext::PlanCache::Plan& p) {
  if (p.op != nullptr) cublasLtMatmulDescDestroy(p.op);
  if (p.a != nullptr) cublasLtMatrixLayoutDestroy(p.a);
  if (p.b != nullptr) cublasLtMatrixLayoutDestroy(p.b);
  if (p.c != nullptr) cublasLtMatrixLayoutDestroy(p.c);
  p = {};
}

/// Builds the TN FP8 matmul: D (n x m, col-major = out [m][n]) = op(A) B with A = W stored as
/// col-major k x n (transposed), B = act stored as col-major k x m.
cudaError_t buildPlan(BlasContext& ctx, BlasContext::PlanCache::Plan& p) {
  REEL_BLAS_TRY(ctx, cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t transA = CUBLAS_OP_T, transB = CUBLAS_OP_N;
  REEL_BLAS_TRY(ctx, cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &transA, sizeof(transA)));
  REEL_BLAS_TRY(ctx, cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &transB, sizeof(transB)));
  REEL_BLAS_TRY(ctx, cublasLtMatrixLayoutCreate(&p.a, CUDA_R_8F_E4M3, static_cast<uint64_t>(p.k),
                                                static_cast<uint64_t>(p.n), p.k));
  REEL_BLAS_TRY(ctx, cublasLtMatrixLayoutCreate(&p.b, CUDA_R_8F_E4M3, static_cast<uint64_t>(p.k),
                                                static_cast<uint64_t>(p.m), p.k));
  REEL_BLAS_TRY(
      ctx, cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, static_cast<uint64_t>(p.n), static_cast<uint64_t>(p.m), p.n));
  cublasLtMatmulPreference_t pref = nullptr;
  REEL_BLAS_TRY(ctx, cublasLtMatmulPreferenceCreate(&pref));
  const size_t ws = ctx.workspaceBytes;
  cublasStatus_t s =
      cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulAlgoGetHeuristic(ctx.lt, p.op, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  REEL_BLAS_TRY(ctx, s);
  if (found == 0) return blasError(ctx, CUBLAS_STATUS_NOT_SUPPORTED);
  p.algo = result.algo;
  return cudaSuccess;
}

__global__ void scaleColumnsKernel(float* out, const float* scales, int64_t n, int64_t count) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] *= scales[i % n];
  }
}

}  // namespace

cudaError_t createBlasContext(BlasContext& ctx, void* workspace, size_t workspaceBytes) {
  ctx = BlasContext{};
  ctx.workspace = workspace;
  ctx.workspaceBytes = workspaceBytes;
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  REEL_BLAS_TRY(ctx, cublasCreate(&blas));
  ctx.blas = blas;
  REEL_BLAS_TRY(ctx, cublasLtCreate(&lt));
  ctx.lt = lt;
  ctx.plans = new BlasContext::PlanCache();
  return cudaSuccess;
}

void destroyBlasContext(BlasContext& ctx) {
  if (ctx.plans != nullptr) {
    for (auto& p : ctx.plans->plans) destroyPlan(p);
    delete ctx.plans;
  }
  if (ctx.lt != nullptr) cublasLtDestroy(ctx.lt);
  if (ctx.blas != nullptr) cublasDestroy(ctx.blas);
  ctx = BlasContext{};
}

cudaError_t fp8Gemm(BlasContext& ctx, const Fp8GemmArgs& a, cudaStream_t stream) {
  if (ctx.lt == nullptr || ctx.plans == nullptr || a.m < 1 || a.n < 16 || a.k < 16 || a.n % 16 != 0 || a.k % 16 != 0 ||
      a.w == nullptr || a.act == nullptr || a.out == nullptr || a.wScales == nullptr || a.actScale == nullptr) {
    return cudaErrorInvalidValue;
  }
  BlasContext::PlanCache::Plan* plan = nullptr;
  for (auto& p : ctx.plans->plans) {
    if (p.m == a.m && p.n == a.n && p.k == a.k && p.perRow == a.perRow) plan = &p;
  }
  if (plan == nullptr) {
    BlasContext::PlanCache::Plan fresh{a.m, a.n, a.k, a.perRow};
    if (const cudaError_t e = buildPlan(ctx, fresh); e != cudaSuccess) {
      destroyPlan(fresh);
      return e;
    }
    ctx.plans->plans.push_back(fresh);
    plan = &ctx.plans->plans.back();
  }
  // D = alpha * scaleA * scaleB * (A B): per-tensor weight scale as scaleA, else columns afterwards.
  const void* aScale = a.perRow ? nullptr : a.wScales;
  const void* bScale = a.actScale;
  REEL_BLAS_TRY(
      ctx, cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &aScale, sizeof(aScale)));
  REEL_BLAS_TRY(
      ctx, cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &bScale, sizeof(bScale)));
  const float alpha = 1.0f, beta = 0.0f;
  REEL_BLAS_TRY(ctx, cublasLtMatmul(ctx.lt, plan->op, &alpha, a.w, plan->a, a.act, plan->b, &beta, a.out, plan->c,
                                    a.out, plan->c, &plan->algo, ctx.workspace, ctx.workspaceBytes, stream));
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  if (a.perRow) {
    const int64_t count = a.m * a.n;
    const int blocks = static_cast<int>(std::min<int64_t>((count + 255) / 256, 4096));
    scaleColumnsKernel<<<blocks, 256, 0, stream>>>(a.out, a.wScales, a.n, count);
    return detail::launchStatus();
  }
  return cudaSuccess;
}

cudaError_t hgemm(BlasContext& ctx, const HgemmArgs& a, cudaStream_t stream) {
  if (ctx.blas == nullptr || a.m < 1 || a.n < 1 || a.k < 1 || a.n > INT32_MAX || a.m > INT32_MAX || a.k > INT32_MAX ||
      a.w == nullptr || a.x == nullptr || a.out == nullptr) {
    return cudaErrorInvalidValue;
  }
  REEL_BLAS_TRY(ctx, cublasSetStream(ctx.blas, stream));
  if (ctx.workspace != nullptr) REEL_BLAS_TRY(ctx, cublasSetWorkspace(ctx.blas, ctx.workspace, ctx.workspaceBytes));
  const float alpha = 1.0f, beta = 0.0f;
  const int n = static_cast<int>(a.n), m = static_cast<int>(a.m), k = static_cast<int>(a.k);
  REEL_BLAS_TRY(ctx, cublasGemmEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, a.w, CUDA_R_16F, k, a.x,
                                  CUDA_R_16F, k, &beta, a.out, CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return cudaGetLastError();
}

}  // namespace reel::kernels

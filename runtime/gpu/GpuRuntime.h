#pragma once
/// \file
/// The GPU runtime: replays a Plan. At load it uploads the weight slots the loaded buckets use,
/// allocates the arena, scratch, KV cache and step-input buffers at fixed addresses, binds each
/// bucket's schedule, runs it once eagerly (cuBLAS/cuBLASLt plans and workspaces get made
/// outside any capture) and captures it into a CUDA graph. Per step: one host-to-device copy of
/// the step inputs from pinned memory, one graph launch (argmax included), one device-to-host
/// copy of the chosen tokens. Nothing is re-captured while decoding. A bucket whose capture
/// fails runs eagerly, with one warning; a failed load frees everything it allocated.
///
/// Usage:
///   GpuRuntime runtime(plan, gguf, {});
///   StepRows rows{{tok}, {pos}, {pos + 1}, {slot}};
///   const std::vector<int32_t>& next = runtime.step(Phase::Decode, rows);

#include "codegen/Plan.h"
#include "kernels/Blas.h"
#include "runtime/decode/StepExecutor.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/gpu/BoundSchedule.h"
#include "runtime/gpu/CudaGraph.h"
#include "runtime/gpu/DeviceMemory.h"
#include "runtime/gpu/RuntimeBuffers.h"
#include "runtime/gpu/WeightUpload.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace reel::gpu {

/// Tests: the capture of one bucket fails (CudaGraph.h), to exercise the eager fallback.
struct InjectedCaptureFault {
  std::string bucket;  ///< the bucket graph ("decode.m4"); empty: none
  CaptureFault fault = CaptureFault::Invalidated;
};

struct RuntimeOptions {
  bool useGraphs = true;             ///< capture the buckets into CUDA graphs (false: --eager)
  int64_t kvSlots = 0;               ///< sequences the KV cache holds; 0: the largest decode bucket
  std::vector<std::string> buckets;  ///< the bucket graphs to load ("decode.m1"); empty: all
  bool progress = true;              ///< the upload progress bar and warnings on stderr
  size_t blasWorkspaceBytes = size_t{64} << 20;
  /// The most device memory the runtime may hold (--gpu-memory-limit; 0: what the GPU has).
  /// Weights, buffers, cuBLAS handles and CUDA graphs count; past it, loading fails with an
  /// out-of-memory error naming what did not fit (a graph that does not fit runs eagerly).
  size_t gpuMemoryLimit = 0;
  InjectedCaptureFault failCapture;
};

using decode::Phase;
using decode::StepRows;

/// The name of the GPU the runtime uses (device 0), e.g. "NVIDIA H100 80GB HBM3".
std::string gpuName();
/// True when a CUDA device is usable.
bool gpuAvailable();
/// Throws "<who>: no usable CUDA device (<why>)" unless one is.
void requireGpu(const std::string& who);

/// The GPU runtime is the decode scheduler's step executor on the GPU.
class GpuRuntime final : public decode::StepExecutor {
 public:
  /// Loads a copy of `plan` with the weights of `file` (needed during the constructor only).
  GpuRuntime(codegen::Plan plan, const GgufFile& file, const RuntimeOptions& options);
  GpuRuntime(const GpuRuntime&) = delete;
  GpuRuntime& operator=(const GpuRuntime&) = delete;
  ~GpuRuntime();

  /// Runs one step through the smallest loaded bucket of `phase` with room for the rows, in the
  /// context class of the longest KV length; returns each live row's argmax token. Throws a
  /// reel::Error for rows no bucket holds, a position past the context, a bad slot or token.
  const std::vector<int32_t>& step(Phase phase, const StepRows& rows) override;

  /// Runs one step like step(), timing each launch (StepTimer.h): milliseconds per step of the
  /// bucket it ran on (lastBucket()). For `reel bench --breakdown`.
  std::vector<float> timeEachLaunch(Phase phase, const StepRows& rows);

  /// The logits of live row `row` of the last step (copied from the arena; for tests).
  [[nodiscard]] std::vector<float> logitsRow(int64_t row) const override;

  /// Runs the following steps eagerly (true) or through the captured graphs (false).
  void setEager(bool eager) { eager_ = eager; }
  /// Fills every buffer but the weights with 0xFF bytes (tests: nothing may read stale data).
  void poison();

  /// The loaded bucket a step of `rows` live rows whose longest KV length is `longestKv` runs
  /// on (null when none holds them).
  [[nodiscard]] const codegen::BucketPlan* bucketFor(Phase phase, int64_t rows, int64_t longestKv) const;
  /// The largest m of the loaded buckets of `phase` (0 when none).
  [[nodiscard]] int64_t largestRows(Phase phase) const override;
  /// The KV cache's slots and positions per slot.
  [[nodiscard]] decode::KvGeometry kvGeometry() const override;
  /// The bucket the last step ran on, and whether it replayed a CUDA graph.
  [[nodiscard]] decode::StepInfo lastStep() const override;
  /// The bucket the last step ran on.
  [[nodiscard]] const codegen::BucketPlan* lastBucket() const { return last_ ? last_->plan : nullptr; }
  /// True when the last step replayed a CUDA graph.
  [[nodiscard]] bool lastStepUsedGraph() const { return lastUsedGraph_; }

  [[nodiscard]] const codegen::Plan& plan() const { return plan_; }
  [[nodiscard]] const KvLayout& kv() const { return buffers_->kv(); }
  [[nodiscard]] int64_t vocab() const { return vocab_; }
  [[nodiscard]] int64_t weightBytes() const { return weights_.bytes; }
  [[nodiscard]] double uploadSeconds() const { return weights_.seconds; }
  /// Buckets that fell back to eager execution because their capture failed, with the reason.
  [[nodiscard]] const std::vector<std::string>& captureFailures() const { return captureFailures_; }
  /// "weights 3.86 GiB, KV cache 1.00 GiB, ... (total ...; GPU: ... free of ...)".
  [[nodiscard]] std::string memoryReport() const { return ledger_.describe(); }
  /// The device memory the runtime holds, by label ("weights", "KV cache", "CUDA graphs", ...).
  [[nodiscard]] const MemoryLedger& memory() const { return ledger_; }

 private:
  struct LoadedBucket {
    const codegen::BucketPlan* plan = nullptr;
    BoundSchedule schedule;
    std::unique_ptr<CapturedGraph> graph;
  };

  void loadBucket(const codegen::BucketPlan& bucket);
  void checkRows(const StepRows& rows) const;
  void copyInputs(const LoadedBucket& bucket, const StepRows& rows);
  void copySampling(const StepRows& rows, int64_t m, int32_t* host) const;
  const LoadedBucket& bucketOf(Phase phase, const StepRows& rows) const;

  codegen::Plan plan_;
  RuntimeOptions options_;
  MemoryLedger ledger_;
  CudaStream stream_;
  DeviceWeights weights_;
  std::unique_ptr<RuntimeBuffers> buffers_;
  DeviceBuffer blasWorkspace_;
  /// The cuBLAS/cuBLASLt handles, destroyed with the runtime.
  struct BlasHandles {
    kernels::BlasContext context;
    BlasHandles() = default;
    BlasHandles(const BlasHandles&) = delete;
    BlasHandles& operator=(const BlasHandles&) = delete;
    ~BlasHandles() { kernels::destroyBlasContext(context); }
  } blas_;
  DriverMemory blasMemory_;  ///< what creating the handles took
  PinnedBuffer hostInputs_;
  PinnedBuffer hostTokens_;
  std::vector<LoadedBucket> buckets_;
  std::vector<std::string> captureFailures_;
  std::vector<int32_t> next_;
  int64_t vocab_ = 0;
  bool samples_ = false;  ///< the plan ends in `sample` (it uploads the sampling step inputs)
  const LoadedBucket* last_ = nullptr;
  int64_t lastRows_ = 0;
  bool eager_ = false;
  bool lastUsedGraph_ = false;
};

}  // namespace reel::gpu

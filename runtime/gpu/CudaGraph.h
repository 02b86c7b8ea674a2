#pragma once
/// \file
/// One bucket's schedule captured into an executable CUDA graph, once. Library steps are
/// captured too: their handles, workspaces and per-shape plans must exist before capture (the
/// runtime runs each schedule eagerly once first). Replays reuse the captured addresses; the
/// step's data changes only through the step-input buffers.
///
/// A capture that fails leaves nothing behind: the capture is ended and its partial graph
/// destroyed, CUDA's last error cleared and the stream out of capture mode, so the runtime can
/// run the bucket eagerly on the same stream. The instantiated graph is uploaded at once, its
/// device memory counted in the ledger (and held to its cap): running out of memory there is
/// reported as such.

#include "runtime/gpu/BoundSchedule.h"
#include "runtime/gpu/DeviceMemory.h"

#include <cuda_runtime_api.h>

#include <memory>
#include <string>

namespace reel::gpu {

/// A failure to inject into a capture, for tests of the eager fallback.
enum class CaptureFault : uint8_t {
  None,
  /// The capture is invalidated half-way through the steps by a stream query, which CUDA
  /// forbids while capturing: a real capture failure.
  Invalidated,
  /// The instantiated graph is refused as when cudaGraphInstantiate runs out of device memory.
  OutOfMemory,
};

/// Where and how to capture.
struct CaptureSetup {
  cudaStream_t stream = nullptr;   ///< idle; left idle and out of capture mode, whatever happens
  MemoryLedger* ledger = nullptr;  ///< counts the graph's device memory (may be null)
  CaptureFault fault = CaptureFault::None;
};

class CapturedGraph {
 public:
  /// Captures `schedule` and instantiates it. On failure returns null and sets `whyNot`
  /// ("launching step 7 of @decode.m8 (...) into the capture: cudaErrorStreamCaptureUnsupported").
  /// Throws only when the stream is unusable afterwards.
  static std::unique_ptr<CapturedGraph> capture(const BoundSchedule& schedule, const CaptureSetup& setup,
                                                std::string& whyNot);

  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  ~CapturedGraph();

  /// Launches the graph on `stream` (checked).
  void launch(cudaStream_t stream) const;
  [[nodiscard]] size_t nodeCount() const { return nodes_; }
  /// The device memory instantiating and uploading the graph took (as measured).
  [[nodiscard]] size_t deviceBytes() const { return memory_.size(); }

 private:
  CapturedGraph() = default;

  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  size_t nodes_ = 0;
  DriverMemory memory_;
};

}  // namespace reel::gpu

#pragma once
/// \file
/// One bucket's schedule captured into an executable CUDA graph, once. Library steps are
/// captured too: their handles, workspaces and per-shape plans must exist before capture (the
/// runtime runs each schedule eagerly once first). Replays reuse the captured addresses; the
/// step's data changes only through the step-input buffers.

#include "runtime/gpu/BoundSchedule.h"

#include <cuda_runtime_api.h>

#include <memory>
#include <string>

namespace reel::gpu {

class CapturedGraph {
 public:
  /// Captures `schedule` on `stream` (which must be idle) and instantiates it. On failure
  /// returns null and sets `whyNot` ("step 7 of @decode.m8 (...): cudaErrorStreamCaptureUnsupported").
  static std::unique_ptr<CapturedGraph> capture(const BoundSchedule& schedule, cudaStream_t stream,
                                                std::string& whyNot);

  CapturedGraph(const CapturedGraph&) = delete;
  CapturedGraph& operator=(const CapturedGraph&) = delete;
  ~CapturedGraph();

  /// Launches the graph on `stream` (checked).
  void launch(cudaStream_t stream) const;
  [[nodiscard]] size_t nodeCount() const { return nodes_; }

 private:
  CapturedGraph() = default;

  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  size_t nodes_ = 0;
};

}  // namespace reel::gpu

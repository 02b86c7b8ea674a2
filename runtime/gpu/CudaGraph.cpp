#include "runtime/gpu/CudaGraph.h"

#include "runtime/gpu/CudaCheck.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <limits>

namespace reel::gpu {

namespace {

/// Ends a capture that failed: its partial graph destroyed, CUDA's last error cleared (capture
/// errors are not sticky), the stream out of capture mode. Throws when the stream cannot be
/// brought back: nothing could run on it then.
void abandonCapture(cudaStream_t stream, const std::string& graph) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t partial = nullptr;
    (void)cudaStreamEndCapture(stream, &partial);  // fails for an invalidated capture, as expected
    if (partial) (void)cudaGraphDestroy(partial);
  }
  (void)cudaGetLastError();
  checkCuda(cudaStreamIsCapturing(stream, &status), "checking the stream after the failed capture of @" + graph);
  if (status != cudaStreamCaptureStatusNone)
    failPlain("the stream is still capturing after the failed capture of @{}", graph);
}

}  // namespace

std::unique_ptr<CapturedGraph> CapturedGraph::capture(const BoundSchedule& schedule, const CaptureSetup& setup,
                                                      std::string& whyNot) {
  const cudaStream_t stream = setup.stream;
  auto failed = [&](const std::string& what, cudaError_t status) {
    abandonCapture(stream, schedule.graph);
    whyNot = fmt::format("{}: {}", what, cudaGetErrorName(status));
    return nullptr;
  };
  std::unique_ptr<CapturedGraph> captured(new CapturedGraph());
  if (cudaError_t s = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal); s != cudaSuccess)
    return failed("beginning the capture", s);
  const size_t faultAt =
      setup.fault == CaptureFault::Invalidated ? schedule.steps.size() / 2 : std::numeric_limits<size_t>::max();
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    if (i == faultAt) {
      // Querying a capturing stream is not allowed: the query fails and invalidates the capture.
      const cudaError_t s = cudaStreamQuery(stream);
      return failed("querying the stream before " + describeStep(schedule, i) + " (an injected fault)",
                    s == cudaSuccess ? cudaErrorStreamCaptureInvalidated : s);
    }
    if (cudaError_t s = launchStep(schedule, i, stream); s != cudaSuccess)
      return failed("launching " + describeStep(schedule, i) + " into the capture", s);
  }
  if (cudaError_t s = cudaStreamEndCapture(stream, &captured->graph_); s != cudaSuccess)
    return failed("ending the capture", s);
  if (cudaError_t s = cudaGraphGetNodes(captured->graph_, nullptr, &captured->nodes_); s != cudaSuccess)
    return failed("counting the graph's nodes", s);

  // The graph's device memory: what instantiating and uploading it take from the GPU.
  const std::string action = "instantiating the CUDA graph of @" + schedule.graph;
  const size_t freeBefore = freeGpuBytes();
  cudaError_t s = cudaGraphInstantiate(&captured->exec_, captured->graph_, 0);
  if (s == cudaSuccess) s = cudaGraphUpload(captured->exec_, stream);
  if (s == cudaSuccess) s = cudaStreamSynchronize(stream);
  if (s == cudaSuccess && setup.fault == CaptureFault::OutOfMemory) s = cudaErrorMemoryAllocation;
  if (s == cudaErrorMemoryAllocation) {
    captured.reset();  // what was made is freed before the free memory is reported
    whyNot = describeOutOfGpuMemory(action, 0, setup.ledger);
    return nullptr;
  }
  if (s != cudaSuccess) return failed(action, s);
  try {
    captured->memory_ = DriverMemory(freeBefore, "CUDA graphs", action, setup.ledger);
  } catch (const Error& error) {  // past the ledger's cap
    whyNot = error.what();
    return nullptr;
  }
  return captured;
}

CapturedGraph::~CapturedGraph() {
  if (exec_) (void)cudaGraphExecDestroy(exec_);
  if (graph_) (void)cudaGraphDestroy(graph_);
}

void CapturedGraph::launch(cudaStream_t stream) const {
  checkCuda(cudaGraphLaunch(exec_, stream), "launching a CUDA graph");
}

}  // namespace reel::gpu

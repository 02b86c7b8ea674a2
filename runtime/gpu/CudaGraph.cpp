#include "runtime/gpu/CudaGraph.h"

#include "runtime/gpu/CudaCheck.h"

#include <fmt/format.h>

namespace reel::gpu {

std::unique_ptr<CapturedGraph> CapturedGraph::capture(const BoundSchedule& schedule, cudaStream_t stream,
                                                      std::string& whyNot) {
  auto failed = [&](const std::string& what, cudaError_t status) {
    (void)cudaGetLastError();  // a failed capture leaves no sticky error behind
    whyNot = fmt::format("{}: {}", what, cudaGetErrorName(status));
    return nullptr;
  };
  std::unique_ptr<CapturedGraph> captured(new CapturedGraph());
  if (cudaError_t s = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal); s != cudaSuccess)
    return failed("beginning the capture of @" + schedule.graph, s);
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    if (cudaError_t s = launchStep(schedule, i, stream); s != cudaSuccess) {
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(stream, &partial);
      if (partial) (void)cudaGraphDestroy(partial);
      return failed("capturing " + describeStep(schedule, i), s);
    }
  }
  if (cudaError_t s = cudaStreamEndCapture(stream, &captured->graph_); s != cudaSuccess)
    return failed("ending the capture of @" + schedule.graph, s);
  if (cudaError_t s = cudaGraphInstantiate(&captured->exec_, captured->graph_, 0); s != cudaSuccess)
    return failed("instantiating the graph of @" + schedule.graph, s);
  (void)cudaGraphGetNodes(captured->graph_, nullptr, &captured->nodes_);
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

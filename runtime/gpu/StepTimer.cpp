#include "runtime/gpu/StepTimer.h"

#include "runtime/gpu/CudaCheck.h"

#include <memory>

namespace reel::gpu {

namespace {

/// Owns the events and the graph of one timing run.
struct TimedGraph {
  std::vector<cudaEvent_t> events;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;

  TimedGraph() = default;
  TimedGraph(const TimedGraph&) = delete;
  TimedGraph& operator=(const TimedGraph&) = delete;
  ~TimedGraph() {
    if (exec) (void)cudaGraphExecDestroy(exec);
    if (graph) (void)cudaGraphDestroy(graph);
    for (cudaEvent_t event : events) (void)cudaEventDestroy(event);
  }
};

}  // namespace

std::vector<float> timeEachStep(const BoundSchedule& schedule, cudaStream_t stream) {
  TimedGraph timed;
  timed.events.resize(schedule.steps.size() + 1);
  for (cudaEvent_t& event : timed.events) checkCuda(cudaEventCreate(&event), "creating a timing event");
  checkCuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capturing a timed step");
  // External records become event nodes of the graph (a plain record only orders streams).
  cudaError_t status = cudaEventRecordWithFlags(timed.events[0], stream, cudaEventRecordExternal);
  for (size_t i = 0; i < schedule.steps.size() && status == cudaSuccess; ++i) {
    status = launchStep(schedule, i, stream);
    if (status == cudaSuccess) status = cudaEventRecordWithFlags(timed.events[i + 1], stream, cudaEventRecordExternal);
  }
  const cudaError_t ended = cudaStreamEndCapture(stream, &timed.graph);
  checkCuda(status, "capturing a timed step of @" + schedule.graph);
  checkCuda(ended, "ending the capture of a timed step");
  checkCuda(cudaGraphInstantiate(&timed.exec, timed.graph, 0), "instantiating a timed step");
  checkCuda(cudaGraphLaunch(timed.exec, stream), "launching a timed step");
  checkCuda(cudaStreamSynchronize(stream), "running a timed step of @" + schedule.graph);
  std::vector<float> milliseconds(schedule.steps.size());
  for (size_t i = 0; i < milliseconds.size(); ++i)
    checkCuda(cudaEventElapsedTime(&milliseconds[i], timed.events[i], timed.events[i + 1]), "reading a timing event");
  return milliseconds;
}

}  // namespace reel::gpu

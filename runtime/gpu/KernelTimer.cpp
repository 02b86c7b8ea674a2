#include "runtime/gpu/KernelTimer.h"

#include "kernels/KernelCatalog.h"
#include "kernels/KernelRegistry.h"
#include "runtime/gpu/CudaCheck.h"
#include "support/Diagnostics.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace reel::gpu {
namespace {

/// The most bytes the copies of one chain may take.
constexpr int64_t kMaxCopiesBytes = int64_t{2} << 30;

/// One launch, resolved against the kernel table.
struct ResolvedLaunch {
  const kernels::KernelInfo* info = nullptr;
  kernels::KernelArgs args;  ///< ints and floats; pointers per copy
  kernels::LaunchDims dims;
  kernels::Footprint footprint{};
  int64_t rows = 1;  ///< its `m`: rows of the step data
  int64_t kvLength = 1;
};

ResolvedLaunch resolve(const TimedKernel& kernel) {
  ResolvedLaunch launch;
  launch.info = kernels::findKernel(kernel.id);
  if (!launch.info) failPlain("reel tune: no kernel '{}' in the kernel table", kernel.id);
  if (launch.info->kind != kernels::KernelKind::Kernel)
    failPlain("reel tune: '{}' is a library call, which the kernel timer does not time", kernel.id);
  std::vector<bool> given(launch.info->intArgs.size(), false);
  for (const auto& [name, value] : kernel.ints) {
    const auto it = std::find_if(launch.info->intArgs.begin(), launch.info->intArgs.end(),
                                 [&](std::string_view arg) { return kernels::argName(arg) == name; });
    if (it == launch.info->intArgs.end())
      failPlain("reel tune: kernel '{}' takes no int argument '{}'", kernel.id, name);
    const auto index = static_cast<size_t>(it - launch.info->intArgs.begin());
    launch.args.ints[index] = value;
    given[index] = true;
    if (name == "m") launch.rows = value;
  }
  for (size_t i = 0; i < given.size(); ++i)
    if (!given[i])
      failPlain("reel tune: kernel '{}' needs its int argument '{}'", kernel.id,
                kernels::argName(launch.info->intArgs[i]));
  if (kernel.floats.size() != launch.info->floatArgs.size())
    failPlain("reel tune: kernel '{}' takes {} float arguments, got {}", kernel.id, launch.info->floatArgs.size(),
              kernel.floats.size());
  std::copy(kernel.floats.begin(), kernel.floats.end(), launch.args.floats.begin());
  if (std::string why = kernels::checkKernelArgs(kernel.id, launch.args.ints.data()); !why.empty())
    failPlain("reel tune: kernel '{}': {}", kernel.id, why);
  launch.dims = kernels::kernelDims(kernel.id, launch.args.ints.data());
  launch.footprint = launch.info->footprint(launch.args.ints.data());
  launch.kvLength = kernel.kvLength;
  return launch;
}

/// The bytes to allocate for pointer argument `i` of `launch` (a KV cache: one slot per row).
int64_t bufferBytes(const ResolvedLaunch& launch, size_t i) {
  const kernels::PtrFootprint& f = launch.footprint[i];
  if (f.bytes < 0 || f.bytes == kernels::kFootprintOverflow)
    failPlain("reel tune: kernel '{}' states no usable footprint for '{}'", launch.info->id,
              kernels::argName(launch.info->ptrArgs[i]));
  const int64_t bytes = f.use == kernels::PtrUse::KvCache ? f.bytes * launch.rows : f.bytes;
  return std::max<int64_t>((bytes + 255) / 256 * 256, 256);
}

/// Host contents of one buffer: finite values for every element type (each 16-bit half of a
/// word is a small f16, and the word a small f32), or valid step data.
std::vector<uint32_t> contents(const ResolvedLaunch& launch, size_t i, int64_t bytes, std::mt19937& rng) {
  std::vector<uint32_t> words(static_cast<size_t>(bytes / 4));
  const int64_t rows = launch.rows;
  switch (launch.footprint[i].use) {
    case kernels::PtrUse::Slots:
      for (size_t r = 0; r < words.size(); ++r) words[r] = static_cast<uint32_t>(static_cast<int64_t>(r) % rows);
      break;
    case kernels::PtrUse::Positions:
      std::fill(words.begin(), words.end(), static_cast<uint32_t>(launch.kvLength - 1));
      break;
    case kernels::PtrUse::KvLens:
      std::fill(words.begin(), words.end(), static_cast<uint32_t>(launch.kvLength));
      break;
    default:
      for (uint32_t& w : words) w = (static_cast<uint32_t>(rng()) & 0x803F803Fu) | 0x3C003C00u;
      break;
  }
  return words;
}

class DeviceBuffers {
 public:
  DeviceBuffers() = default;
  DeviceBuffers(const DeviceBuffers&) = delete;
  DeviceBuffers& operator=(const DeviceBuffers&) = delete;
  ~DeviceBuffers() {
    for (void* p : buffers_) cudaFree(p);
  }
  void* add(const std::vector<uint32_t>& words) {
    void* p = nullptr;
    checkCuda(cudaMalloc(&p, words.size() * 4), "reel tune: allocating a kernel's buffer");
    buffers_.push_back(p);
    checkCuda(cudaMemcpy(p, words.data(), words.size() * 4, cudaMemcpyHostToDevice), "reel tune: filling a buffer");
    return p;
  }

 private:
  std::vector<void*> buffers_;
};

/// RAII for the stream, graph, executable graph and events of one measurement.
struct GraphRun {
  cudaStream_t stream = nullptr;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  GraphRun() {
    checkCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "reel tune: creating a stream");
    checkCuda(cudaEventCreate(&start), "reel tune: creating an event");
    checkCuda(cudaEventCreate(&stop), "reel tune: creating an event");
  }
  GraphRun(const GraphRun&) = delete;
  GraphRun& operator=(const GraphRun&) = delete;
  ~GraphRun() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaStreamDestroy(stream);
  }
};

}  // namespace

double timeKernelChain(const std::vector<TimedKernel>& chain, const KernelTimerOptions& options) {
  if (chain.empty()) failPlain("reel tune: nothing to time");
  std::vector<ResolvedLaunch> launches;
  int64_t passBytes = 0;
  for (const TimedKernel& kernel : chain) {
    launches.push_back(resolve(kernel));
    for (size_t i = 0; i < launches.back().info->ptrArgs.size(); ++i) passBytes += bufferBytes(launches.back(), i);
  }
  const int64_t copies =
      std::clamp<int64_t>((4 * options.l2Bytes + passBytes - 1) / passBytes, 2, kMaxCopiesBytes / passBytes);
  if (copies < 2) failPlain("reel tune: one pass over '{}' needs more than 1 GiB of buffers", chain.front().id);

  DeviceBuffers buffers;
  std::mt19937 rng(7);
  // copyArgs[c][l]: the arguments of launch l in pass c.
  std::vector<std::vector<kernels::KernelArgs>> copyArgs(static_cast<size_t>(copies));
  for (auto& pass : copyArgs) {
    for (const ResolvedLaunch& launch : launches) {
      kernels::KernelArgs args = launch.args;
      for (size_t i = 0; i < launch.info->ptrArgs.size(); ++i)
        args.ptrs[i] = buffers.add(contents(launch, i, bufferBytes(launch, i), rng));
      pass.push_back(args);
    }
  }

  GraphRun run;
  const int64_t passes = std::max<int64_t>(copies, 32);
  checkCuda(cudaStreamBeginCapture(run.stream, cudaStreamCaptureModeThreadLocal), "reel tune: beginning a capture");
  for (int64_t p = 0; p < passes; ++p) {
    const auto& pass = copyArgs[static_cast<size_t>(p % copies)];
    for (size_t l = 0; l < launches.size(); ++l) {
      const cudaError_t status = kernels::launchKernel(launches[l].info->id, launches[l].dims, pass[l], run.stream);
      if (status != cudaSuccess) {
        cudaGraph_t abandoned = nullptr;
        cudaStreamEndCapture(run.stream, &abandoned);
        if (abandoned) cudaGraphDestroy(abandoned);
        checkCuda(status, fmt::format("reel tune: launching '{}'", launches[l].info->id));
      }
    }
  }
  checkCuda(cudaStreamEndCapture(run.stream, &run.graph), "reel tune: ending the capture");
  checkCuda(cudaGraphInstantiate(&run.exec, run.graph, 0), "reel tune: instantiating the graph");
  checkCuda(cudaGraphLaunch(run.exec, run.stream), "reel tune: warming up");
  std::vector<double> us;
  for (int r = 0; r < std::max(options.replays, 1); ++r) {
    checkCuda(cudaEventRecord(run.start, run.stream), "reel tune: recording an event");
    checkCuda(cudaGraphLaunch(run.exec, run.stream), "reel tune: replaying the graph");
    checkCuda(cudaEventRecord(run.stop, run.stream), "reel tune: recording an event");
    checkCuda(cudaEventSynchronize(run.stop), "reel tune: running the graph");
    float ms = 0;
    checkCuda(cudaEventElapsedTime(&ms, run.start, run.stop), "reel tune: reading the time");
    us.push_back(static_cast<double>(ms) * 1e3 / static_cast<double>(passes));
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace reel::gpu

#include "runtime/gpu/KernelTimer.h"

#include "kernels/Blas.h"
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
/// Bytes of random words a data buffer is filled with before the GPU repeats them to its end.
constexpr int64_t kPatternBytes = int64_t{4} << 20;
/// The cuBLAS and cuBLASLt workspace (as the runtime's).
constexpr size_t kBlasWorkspaceBytes = size_t{64} << 20;

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

/// Random words of finite values for every element type: each 16-bit half of a word is a small
/// f16, the word a small f32, each byte a finite E4M3.
std::vector<uint32_t> randomWords(size_t count, std::mt19937& rng) {
  std::vector<uint32_t> words(count);
  for (uint32_t& w : words) w = (static_cast<uint32_t>(rng()) & 0x803F803Fu) | 0x3C003C00u;
  return words;
}

/// Whether pointer argument `i` of `launch` is step data the kernel trusts (slots, positions,
/// KV lengths), which `stepData` fills with valid values.
bool isStepData(const ResolvedLaunch& launch, size_t i) {
  const kernels::PtrUse use = launch.footprint[i].use;
  return use == kernels::PtrUse::Slots || use == kernels::PtrUse::Positions || use == kernels::PtrUse::KvLens;
}

/// Host contents of one step-data buffer: valid slots, positions or KV lengths.
std::vector<uint32_t> stepData(const ResolvedLaunch& launch, size_t i, int64_t bytes) {
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
    void* p = allocate(static_cast<int64_t>(words.size()) * 4);
    checkCuda(cudaMemcpy(p, words.data(), words.size() * 4, cudaMemcpyHostToDevice), "reel tune: filling a buffer");
    return p;
  }
  /// `bytes` (a multiple of 4) of `pattern`'s words, repeated on the GPU to the end.
  void* addRepeated(int64_t bytes, const std::vector<uint32_t>& pattern) {
    auto* p = static_cast<char*>(allocate(bytes));
    const int64_t first = std::min(bytes, static_cast<int64_t>(pattern.size()) * 4);
    checkCuda(cudaMemcpy(p, pattern.data(), static_cast<size_t>(first), cudaMemcpyHostToDevice),
              "reel tune: filling a buffer");
    for (int64_t filled = first; filled < bytes; filled *= 2)
      checkCuda(
          cudaMemcpy(p + filled, p, static_cast<size_t>(std::min(filled, bytes - filled)), cudaMemcpyDeviceToDevice),
          "reel tune: filling a buffer");
    return p;
  }

 private:
  void* allocate(int64_t bytes) {
    void* p = nullptr;
    checkCuda(cudaMalloc(&p, static_cast<size_t>(bytes)), "reel tune: allocating a kernel's buffer");
    buffers_.push_back(p);
    return p;
  }

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

/// Launches `launch` with `args` on `stream`; a failure ends the capture in progress, if any,
/// and throws naming the kernel (and the cuBLAS status of a library call).
void launchChecked(const ResolvedLaunch& launch, const kernels::KernelArgs& args, cudaStream_t stream, bool capturing) {
  const cudaError_t status = kernels::launchKernel(launch.info->id, launch.dims, args, stream);
  if (status == cudaSuccess) return;
  if (capturing) {
    cudaGraph_t abandoned = nullptr;
    cudaStreamEndCapture(stream, &abandoned);
    if (abandoned) cudaGraphDestroy(abandoned);
  }
  const auto* blas = static_cast<const kernels::BlasContext*>(args.library);
  const std::string library =
      blas && blas->lastBlasStatus != 0 ? fmt::format(" (cuBLAS status {})", blas->lastBlasStatus) : "";
  checkCuda(status, fmt::format("reel tune: launching '{}'{}", launch.info->id, library));
}

}  // namespace

/// The handles library calls run on, and their workspace.
struct KernelTimer::Library {
  void* workspace = nullptr;
  kernels::BlasContext context;
  Library() {
    checkCuda(cudaMalloc(&workspace, kBlasWorkspaceBytes), "reel tune: allocating the cuBLAS workspace");
    const cudaError_t status = kernels::createBlasContext(context, workspace, kBlasWorkspaceBytes);
    if (status != cudaSuccess) {
      kernels::destroyBlasContext(context);
      cudaFree(workspace);
      checkCuda(status, "reel tune: creating the cuBLAS and cuBLASLt handles");
    }
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() {
    kernels::destroyBlasContext(context);
    cudaFree(workspace);
  }
};

KernelTimer::KernelTimer(KernelTimerOptions options) : options_(options) {}
KernelTimer::~KernelTimer() = default;

double timeKernelChain(const std::vector<TimedKernel>& chain, const KernelTimerOptions& options) {
  return KernelTimer(options).time(chain);
}

int64_t chainBufferBytes(const std::vector<TimedKernel>& chain) {
  int64_t bytes = 0;
  for (const TimedKernel& kernel : chain) {
    const ResolvedLaunch launch = resolve(kernel);
    for (size_t i = 0; i < launch.info->ptrArgs.size(); ++i) bytes += bufferBytes(launch, i);
  }
  return bytes;
}

double KernelTimer::time(const std::vector<TimedKernel>& chain) {
  const KernelTimerOptions& options = options_;
  if (chain.empty()) failPlain("reel tune: nothing to time");
  std::vector<ResolvedLaunch> launches;
  int64_t passBytes = 0;
  for (const TimedKernel& kernel : chain) {
    launches.push_back(resolve(kernel));
    for (size_t i = 0; i < launches.back().info->ptrArgs.size(); ++i) passBytes += bufferBytes(launches.back(), i);
  }
  const int64_t copies =
      std::clamp<int64_t>((4 * options.l2Bytes + passBytes - 1) / passBytes, 2, kMaxCopiesBytes / passBytes);
  if (passBytes > kMaxTimedPassBytes || copies < 2)
    failPlain("reel tune: one pass over '{}' needs more than 1 GiB of buffers", chain.front().id);

  const bool needsLibrary = std::any_of(launches.begin(), launches.end(), [](const ResolvedLaunch& launch) {
    return launch.info->kind == kernels::KernelKind::Library;
  });
  if (needsLibrary && !library_) library_ = std::make_unique<Library>();

  DeviceBuffers buffers;
  std::mt19937 rng(7);
  const std::vector<uint32_t> pattern = randomWords(static_cast<size_t>(std::min(passBytes, kPatternBytes) / 4), rng);
  // copyArgs[c][l]: the arguments of launch l in pass c.
  std::vector<std::vector<kernels::KernelArgs>> copyArgs(static_cast<size_t>(copies));
  for (auto& pass : copyArgs) {
    for (const ResolvedLaunch& launch : launches) {
      kernels::KernelArgs args = launch.args;
      if (launch.info->kind == kernels::KernelKind::Library) args.library = &library_->context;
      for (size_t i = 0; i < launch.info->ptrArgs.size(); ++i) {
        const int64_t bytes = bufferBytes(launch, i);
        args.ptrs[i] =
            isStepData(launch, i) ? buffers.add(stepData(launch, i, bytes)) : buffers.addRepeated(bytes, pattern);
      }
      pass.push_back(args);
    }
  }

  GraphRun run;
  // One eager pass, checked: library calls plan their shapes outside the capture.
  for (size_t l = 0; l < launches.size(); ++l) launchChecked(launches[l], copyArgs.front()[l], run.stream, false);
  checkCuda(cudaStreamSynchronize(run.stream), fmt::format("reel tune: running '{}' once", chain.front().id));
  const int64_t passes = std::max<int64_t>(copies, 32);
  checkCuda(cudaStreamBeginCapture(run.stream, cudaStreamCaptureModeThreadLocal), "reel tune: beginning a capture");
  for (int64_t p = 0; p < passes; ++p) {
    const auto& pass = copyArgs[static_cast<size_t>(p % copies)];
    for (size_t l = 0; l < launches.size(); ++l) launchChecked(launches[l], pass[l], run.stream, true);
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

// kernel_bench: DP4A GEMV bandwidth at Llama-2-7B shapes (not a ctest test; scripts/gpu-check
// runs it). Each case rotates over enough weight copies (>= 256 MiB) that L2 (50 MiB) cannot
// serve them, launches from a captured CUDA graph, and reports the median over replays of the
// time per GEMV, the bytes it must read (weights + activations) and written, GB/s and the
// fraction of 3.1 TB/s and of the measured read bandwidth (the best streaming read of 1 GiB
// over a few launch shapes; the device-to-device copy is printed too); then the GEMV time
// of one Llama-2-7B Q4_K_M token, with and without programmatic dependent launch, with a
// Q8_1 quantize before every GEMV, and with q, k, v stacked as the default plan lowers them. Weights are random bytes
// (the DP4A path's cost does not depend on them). `--row-sets` sweeps the GEMV's row sets per
// lane, `--mmq` times the tensor-core kernels against m (`--mma-f16`: mmq and mma_f16 alone),
// `--prefill-attention` the prefill
// attention kernels (attn_prefill, attn_prefill_flash) on a Llama-3-8B prompt, and
// `--mmq-case TYPE N K M` times one mmq shape alone (a target for a profiler such as ncu).
#include "bench/ReadBandwidth.h"
#include "kernels/Attention.h"
#include "kernels/Dequant.h"
#include "kernels/Gemv.h"
#include "kernels/GemvShape.h"
#include "kernels/MmaF16.h"
#include "kernels/MmaF16Shape.h"
#include "kernels/Mmq.h"
#include "passes/LaunchPolicy.h"
#include "quant/QuantRef.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string_view>
#include <vector>

namespace {

using reel::kernels::GemvArgs;
using reel::kernels::GemvEpilogue;
using reel::quant::QType;

constexpr double kPeakBytesPerSecond = 3.1e12;

#define BENCH_CHECK(expr)                                                                              \
  do {                                                                                                 \
    const cudaError_t status_ = (expr);                                                                \
    if (status_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(status_)); \
      std::exit(1);                                                                                    \
    }                                                                                                  \
  } while (0)

struct Case {
  const char* name;
  QType type;
  int64_t n, k;
  int m;
  GemvEpilogue epilogue;
  int stacked = 1;              ///< > 1: that many n x k matrices in one stacked launch (fuse-qkv)
  QType lastType = QType::F32;  ///< stacked: the last matrix's type where it differs (F32: the same)
};

/// The type of matrix w of a case's launch.
QType matrixType(const Case& c, int w, int matrices) {
  return w + 1 == matrices && c.lastType != QType::F32 ? c.lastType : c.type;
}

struct Result {
  double seconds;  // per GEMV launch
  double bytes;    // moved per launch
};

size_t weightBytes(QType type, int64_t n, int64_t k) {
  return static_cast<size_t>(n) *
         (reel::quant::needsRowPlanar(type) ? reel::quant::planarRowBytes(type, k) : reel::quant::rowBytes(type, k));
}

void fillRandom(void* device, size_t bytes, uint64_t seed) {
  std::vector<uint64_t> host((bytes + 7) / 8);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint64_t& v : host) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    v = s;
  }
  BENCH_CHECK(cudaMemcpy(device, host.data(), bytes, cudaMemcpyHostToDevice));
}

/// Seconds per launch of a captured graph of `launches` launches: one warm-up replay, then the
/// median of 9 timed replays. Destroys the graph.
double medianSecondsPerLaunch(cudaGraph_t graph, int launches, cudaStream_t stream) {
  cudaGraphExec_t exec = nullptr;
  BENCH_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  BENCH_CHECK(cudaGraphLaunch(exec, stream));  // warm-up
  std::vector<double> times;
  for (int rep = 0; rep < 9; ++rep) {
    BENCH_CHECK(cudaEventRecord(start, stream));
    BENCH_CHECK(cudaGraphLaunch(exec, stream));
    BENCH_CHECK(cudaEventRecord(stop, stream));
    BENCH_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms * 1e-3 / launches);
  }
  std::sort(times.begin(), times.end());
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  return times[times.size() / 2];
}

/// How the captured chain of launches is built.
struct Mode {
  bool earlyStart = true;      ///< programmatic dependent launch of the GEMVs
  bool quantizeFirst = false;  ///< a Q8_1 quantize launch before every GEMV (as in decode)
  int rowSets = 0;             ///< GemvArgs::rowSets (0: what select-launch-config picks for the shape)
  bool mmq = false;            ///< the tensor-core kernel (kernels/Mmq.h) instead of the GEMV (plain cases)
  int tileTokens = 0;          ///< mmq: MmqArgs::tileTokens
  bool prefetch = true;        ///< mmq: MmqArgs::prefetch
  bool mmaF16 = false;         ///< the f16 tensor-core kernel (kernels/MmaF16.h) on f16 activations
};

Result runCase(const Case& c, const Mode& mode, cudaStream_t stream) {
  const int matrices = c.epilogue == GemvEpilogue::Plain ? c.stacked : 2;
  size_t bytes = 0;  // per weight buffer: the largest matrix
  double weightTotal = 0.0;
  for (int w = 0; w < matrices; ++w) {
    const size_t b = weightBytes(matrixType(c, w, matrices), c.n, c.k);
    bytes = std::max(bytes, b);
    weightTotal += static_cast<double>(b);
  }
  const int copies = static_cast<int>(std::max<size_t>(2, (256u << 20) / (bytes * static_cast<size_t>(matrices)) + 1));
  std::vector<void*> weights(static_cast<size_t>(copies * matrices));
  for (size_t i = 0; i < weights.size(); ++i) {
    BENCH_CHECK(cudaMalloc(&weights[i], bytes));
    fillRandom(weights[i], bytes, i + 1);
  }
  float* x = nullptr;
  void* act = nullptr;
  float* out[2] = {nullptr, nullptr};
  BENCH_CHECK(cudaMalloc(&x, sizeof(float) * static_cast<size_t>(c.m * c.k)));
  BENCH_CHECK(cudaMalloc(&act, reel::quant::q81RowBytes(c.k) * static_cast<size_t>(c.m)));
  for (float*& o : out) BENCH_CHECK(cudaMalloc(&o, sizeof(float) * static_cast<size_t>(c.m * c.n)));
  float* extraOut = nullptr;  // the third stacked matrix's output
  BENCH_CHECK(cudaMalloc(&extraOut, sizeof(float) * static_cast<size_t>(c.m * c.n)));
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<float> hx(static_cast<size_t>(c.m * c.k));
  for (float& v : hx) v = dist(rng);
  BENCH_CHECK(cudaMemcpy(x, hx.data(), sizeof(float) * hx.size(), cudaMemcpyHostToDevice));
  BENCH_CHECK(reel::kernels::launchQuantizeQ81(x, act, c.m, c.k, stream));
  void* actF16 = nullptr;  // mma_f16's activations: random f16 bits are as fast as any
  if (mode.mmaF16) {
    BENCH_CHECK(cudaMalloc(&actF16, 2 * static_cast<size_t>(c.m * c.k)));
    fillRandom(actF16, 2 * static_cast<size_t>(c.m * c.k), 5);
  }

  const int launches = std::max(copies, 64);
  cudaGraph_t graph = nullptr;
  BENCH_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < launches; ++i) {
    if (mode.quantizeFirst) BENCH_CHECK(reel::kernels::launchQuantizeQ81(x, act, c.m, c.k, stream));
    if (mode.mmaF16) {
      reel::kernels::MmaF16Args a;
      a.type = c.type;
      a.weights = weights[static_cast<size_t>(i % copies)];
      a.act = actF16;
      a.out = out[0];
      a.n = c.n;
      a.k = c.k;
      a.m = c.m;
      a.earlyStart = mode.earlyStart;
      BENCH_CHECK(reel::kernels::launchMmaF16(a, stream));
      continue;
    }
    if (mode.mmq) {
      reel::kernels::MmqArgs a;
      a.type = c.type;
      a.weights = weights[static_cast<size_t>(i % copies)];
      a.act = act;
      a.out = out[0];
      a.n = c.n;
      a.k = c.k;
      a.m = c.m;
      a.earlyStart = mode.earlyStart;
      a.tileTokens = mode.tileTokens;
      a.prefetch = mode.prefetch;
      BENCH_CHECK(reel::kernels::launchMmq(a, stream));
      continue;
    }
    GemvArgs g;
    g.earlyStart = mode.earlyStart;
    g.rowSets = mode.rowSets != 0
                    ? mode.rowSets
                    : reel::passes::gemvRowSets(c.n * c.stacked, c.m, c.epilogue == GemvEpilogue::Plain ? 1 : 2);
    g.type = c.type;
    if (c.lastType != QType::F32) g.lastType = c.lastType;
    g.epilogue = c.epilogue;
    const int copy = i % copies;
    for (int w = 0; w < matrices; ++w) g.weights[w] = weights[static_cast<size_t>(copy * matrices + w)];
    g.act = act;
    g.out[0] = out[0];
    g.out[1] = out[1];
    g.out[2] = extraOut;
    g.n = c.n * c.stacked;
    for (int w = 0; c.stacked > 1 && w < c.stacked; ++w) g.stackRows[w] = c.n;
    g.k = c.k;
    g.m = c.m;
    BENCH_CHECK(reel::kernels::launchGemvDp4a(g, stream));
  }
  BENCH_CHECK(cudaStreamEndCapture(stream, &graph));
  const double seconds = medianSecondsPerLaunch(graph, launches, stream);
  const double moved = weightTotal + static_cast<double>(reel::quant::q81RowBytes(c.k)) * c.m +
                       4.0 * static_cast<double>(c.m * c.n) * (c.epilogue == GemvEpilogue::GateUp ? 2 : c.stacked);
  for (void* w : weights) cudaFree(w);
  cudaFree(x);
  cudaFree(act);
  cudaFree(actF16);
  for (float* o : out) cudaFree(o);
  cudaFree(extraOut);
  return {seconds, moved};
}

double copyBandwidth(cudaStream_t stream) {
  const size_t bytes = 512u << 20;
  void *a = nullptr, *b = nullptr;
  BENCH_CHECK(cudaMalloc(&a, bytes));
  BENCH_CHECK(cudaMalloc(&b, bytes));
  fillRandom(a, bytes, 99);
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  BENCH_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream));
  BENCH_CHECK(cudaEventRecord(start, stream));
  for (int i = 0; i < 10; ++i)
    BENCH_CHECK(cudaMemcpyAsync(i % 2 ? a : b, i % 2 ? b : a, bytes, cudaMemcpyDeviceToDevice, stream));
  BENCH_CHECK(cudaEventRecord(stop, stream));
  BENCH_CHECK(cudaEventSynchronize(stop));
  float ms = 0.0f;
  BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
  cudaFree(a);
  cudaFree(b);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return 2.0 * static_cast<double>(bytes) * 10 / (ms * 1e-3);
}

/// The median of `reps` timings of launch() (a cudaError_t), each between two events on `stream`.
template <typename LaunchFn>
double medianMilliseconds(LaunchFn launch, int reps, cudaEvent_t start, cudaEvent_t stop, cudaStream_t stream) {
  std::vector<float> times;
  for (int i = 0; i < reps; ++i) {
    BENCH_CHECK(cudaEventRecord(start, stream));
    BENCH_CHECK(launch());
    BENCH_CHECK(cudaEventRecord(stop, stream));
    BENCH_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    BENCH_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// The best streaming-read rate over a few grid shapes and load depths (median of 9 reads each).
double readBandwidth(const cudaDeviceProp& prop, cudaStream_t stream) {
  const size_t bytes = size_t{1} << 30;
  void* data = nullptr;
  uint32_t* sink = nullptr;
  BENCH_CHECK(cudaMalloc(&data, bytes));
  BENCH_CHECK(cudaMalloc(&sink, 1024 * sizeof(uint32_t)));
  fillRandom(data, bytes, 7);
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  double best = 0.0;
  for (const int blocksPerSm : {4, 8}) {
    for (const int depth : {4, 8}) {
      reel::bench::ReadProbe probe{data, bytes, sink, blocksPerSm * prop.multiProcessorCount, 256, depth};
      BENCH_CHECK(reel::bench::readOnce(probe, stream));
      const double ms =
          medianMilliseconds([&] { return reel::bench::readOnce(probe, stream); }, 9, start, stop, stream);
      const double rate = static_cast<double>(bytes) / (ms * 1e-3);
      std::printf("  streaming read, %d blocks/SM x 256 threads, %d loads in flight: %.0f GB/s\n", blocksPerSm, depth,
                  rate * 1e-9);
      best = std::max(best, rate);
    }
  }
  cudaFree(data);
  cudaFree(sink);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return best;
}

/// Times every row-set count the GEMV supports on the decode shapes of Llama-2-7B and TinyLlama
/// at m = 1, 2, 4, 8: the measurements passes::gemvRowSets (passes/LaunchPolicy.h) is drawn from.
void sweepRowSets(cudaStream_t stream) {
  const Case shapes[] = {
      {"l7b q4_k attn_q/k/o", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain},
      {"l7b q4_k attn_q+k+v", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain, 3},
      {"l7b q4_k attn_q+k", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain, 2},
      {"l7b q4_k/q6_k q+k+v", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain, 3, QType::Q6_K},
      {"l7b q6_k attn_v", QType::Q6_K, 4096, 4096, 1, GemvEpilogue::Plain},
      {"l7b q4_k gate+up", QType::Q4_K, 11008, 4096, 1, GemvEpilogue::GateUp},
      {"l7b q4_k ffn_down", QType::Q4_K, 4096, 11008, 1, GemvEpilogue::Plain},
      {"l7b q6_k ffn_down", QType::Q6_K, 4096, 11008, 1, GemvEpilogue::Plain},
      {"l7b q6_k output", QType::Q6_K, 32000, 4096, 1, GemvEpilogue::Plain},
      {"tiny q4_k attn_q/o", QType::Q4_K, 2048, 2048, 1, GemvEpilogue::Plain},
      {"tiny q4_k gate+up", QType::Q4_K, 5632, 2048, 1, GemvEpilogue::GateUp},
      {"tiny q4_k ffn_down", QType::Q4_K, 2048, 5632, 1, GemvEpilogue::Plain},
      {"tiny q6_k ffn_down", QType::Q6_K, 2048, 5632, 1, GemvEpilogue::Plain},
      {"q8_0 4096x4096", QType::Q8_0, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q5_0 4096x4096", QType::Q5_0, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q4_0 4096x4096", QType::Q4_0, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q5_k 4096x4096", QType::Q5_K, 4096, 4096, 1, GemvEpilogue::Plain},
  };
  std::printf("row sets per lane: us per launch (* = the default gemvRowSets picks)\n");
  std::printf("%-22s %6s %6s %5s %10s %10s\n", "case", "n", "k", "m", "rs=1", "rs=2");
  for (Case c : shapes) {
    for (const int m : {1, 2, 4, 8}) {
      c.m = m;
      const int matrices = c.epilogue == GemvEpilogue::Plain ? 1 : 2;
      const int chosen = reel::passes::gemvRowSets(c.n * c.stacked, m, matrices);
      std::printf("%-22s %6lld %6lld %5d", c.name, static_cast<long long>(c.n * c.stacked), static_cast<long long>(c.k),
                  m);
      for (const int rs : {1, 2}) {
        Mode mode;
        mode.rowSets = rs;
        const Result r = runCase(c, mode, stream);
        std::printf(" %9.2f%s", r.seconds * 1e6, rs == chosen ? "*" : " ");
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
}

/// Microseconds of one f16 dequantization of an n x k weight of `type` (weights rotated over
/// >= 256 MiB, a captured graph of launches, median of 9 replays).
double dequantMicroseconds(QType type, int64_t n, int64_t k, cudaStream_t stream) {
  const size_t bytes = weightBytes(type, n, k);
  const int copies = static_cast<int>(std::max<size_t>(2, (256u << 20) / bytes + 1));
  std::vector<void*> weights(static_cast<size_t>(copies));
  for (size_t i = 0; i < weights.size(); ++i) {
    BENCH_CHECK(cudaMalloc(&weights[i], bytes));
    fillRandom(weights[i], bytes, i + 1);
  }
  void* out = nullptr;
  BENCH_CHECK(cudaMalloc(&out, static_cast<size_t>(n * k) * 2));
  const int launches = std::max(copies, 32);
  cudaGraph_t graph = nullptr;
  BENCH_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < launches; ++i) {
    reel::kernels::DequantF16Args a;
    a.type = type;
    a.weights = weights[static_cast<size_t>(i % copies)];
    a.out = out;
    a.n = n;
    a.k = k;
    BENCH_CHECK(reel::kernels::launchDequantF16(a, stream));
  }
  BENCH_CHECK(cudaStreamEndCapture(stream, &graph));
  const double seconds = medianSecondsPerLaunch(graph, launches, stream);
  for (void* w : weights) cudaFree(w);
  cudaFree(out);
  return seconds * 1e6;
}

/// The tensor-core kernel on the plain Llama-2-7B Q4_K_M shapes at m = 8 ... 512, the DP4A GEMV
/// at m = 8 beside it, and the matmul time of one decode step of the whole model per m (gate and
/// up as two launches, q, k, v apart): the figures select-precision's crossovers are drawn from.
void sweepMmq(cudaStream_t stream, double read, bool mmaF16Only) {
  const Case shapes[] = {
      {"q4_k attn_q/k/o", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q4_k ffn_gate/up", QType::Q4_K, 11008, 4096, 1, GemvEpilogue::Plain},
      {"q4_k ffn_down", QType::Q4_K, 4096, 11008, 1, GemvEpilogue::Plain},
      {"q6_k attn_v", QType::Q6_K, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q6_k ffn_down", QType::Q6_K, 4096, 11008, 1, GemvEpilogue::Plain},
      {"q6_k output", QType::Q6_K, 32000, 4096, 1, GemvEpilogue::Plain},
      {"q8_0 4096x4096", QType::Q8_0, 4096, 4096, 1, GemvEpilogue::Plain},
  };
  if (!mmaF16Only) {
    std::printf("dequant to f16: us per launch, bytes read + written per second (%% of read)\n");
    std::vector<double> us;
    for (const Case& c : shapes) {
      us.push_back(dequantMicroseconds(c.type, c.n, c.k, stream));
      const double moved = static_cast<double>(weightBytes(c.type, c.n, c.k)) + 2.0 * static_cast<double>(c.n * c.k);
      std::printf("%-18s %10.2f %8.0f (%4.1f%%)\n", c.name, us.back(), moved / us.back() * 1e-3,
                  100.0 * moved / (us.back() * 1e-6) / read);
    }
    const double step = 16 * (4 * us[0] + 2 * us[1] + us[2]) + 16 * (3 * us[0] + us[3] + 2 * us[1] + us[4]) + us[5];
    std::printf("llama-2-7b q4_k_m dequantization of every weight once: %.0f us\n", step);
  }
  std::printf("mmq: us per launch, weight GB/s (%% of read); variants: tokens per block tile, next unit prefetched\n");
  std::printf("%-18s %5s %14s %10s %14s\n", "case", "m", "kind", "us", "weight GB/s");
  struct Variant {
    const char* name;
    bool mmq;
    int tileTokens;
    bool prefetch;
    bool mmaF16 = false;  ///< mma_f16 where the type has it (Q4_K), mmq elsewhere
  };
  const Variant variants[] = {{"dp4a", false, 0, true},          {"mmq", true, 0, true},
                              {"mmq nopf", true, 0, false},      {"mmq t16", true, 16, true},
                              {"mmq t16 nopf", true, 16, false}, {"mma-f16", true, 0, true, true}};
  for (const int m : {8, 16, 32, 64, 128, 512}) {
    for (const Variant& v : variants) {
      if (mmaF16Only && std::string_view(v.name) != "mmq" && !v.mmaF16) continue;
      if (!v.mmq && m != 8) continue;                        // the GEMV's own range
      if (v.tileTokens != 0 && m <= v.tileTokens) continue;  // the default tile already
      std::vector<double> us;
      for (Case c : shapes) {
        c.m = m;
        Mode mode;
        mode.mmq = v.mmq;
        mode.tileTokens = v.tileTokens;
        mode.prefetch = v.prefetch;
        mode.mmaF16 = v.mmaF16 && reel::kernels::mmaF16Supports(c.type);
        const Result r = runCase(c, mode, stream);
        const double wbytes = static_cast<double>(weightBytes(c.type, c.n, c.k));
        us.push_back(r.seconds * 1e6);
        std::printf("%-18s %5d %14s %10.2f %8.0f (%4.1f%%)\n", c.name, m,
                    mode.mmaF16 ? "mma-f16"
                    : v.mmaF16  ? "mmq"
                                : v.name,
                    r.seconds * 1e6, wbytes / r.seconds * 1e-9, 100.0 * wbytes / r.seconds / read);
        std::fflush(stdout);
      }
      const double step = 16 * (4 * us[0] + 2 * us[1] + us[2]) + 16 * (3 * us[0] + us[3] + 2 * us[1] + us[4]) + us[5];
      std::printf("llama-2-7b q4_k_m matmuls of one step, m=%d, %s: %.0f us (%.0f tok/s bound)\n", m, v.name, step,
                  m / (step * 1e-6));
    }
  }
}

/// Milliseconds per launch of one prefill attention kernel (the median of `reps` timed launches
/// after one warm-up).
template <typename LaunchFn>
double prefillMilliseconds(LaunchFn launch, int reps, cudaStream_t stream) {
  cudaEvent_t start, stop;
  BENCH_CHECK(cudaEventCreate(&start));
  BENCH_CHECK(cudaEventCreate(&stop));
  BENCH_CHECK(launch());
  const double ms = medianMilliseconds(launch, reps, start, stop, stream);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms;
}

/// Prefill attention of one Llama-3-8B layer (32 query heads, 8 KV heads, head_dim 128) over a
/// prompt of n tokens in one slot, every row in one launch (a chunked prefill does the same
/// causal work over its chunks): the decode kernel with per-row lengths (attn_prefill) against
/// the tensor-core kernel (attn_prefill_flash), and both x 32 layers.
void sweepPrefillAttention(cudaStream_t stream) {
  constexpr int64_t kHeads = 32, kKvHeads = 8, kHeadDim = 128, kLayers = 32;
  std::printf("prefill attention, llama-3-8b layer (32 q heads, 8 kv heads, head_dim 128), one launch per prompt\n");
  std::printf("%6s %22s %10s %12s %10s\n", "tokens", "kernel", "ms/layer", "32 layers ms", "TFLOP/s");
  for (const int64_t n : {512, 2048, 8000}) {
    const int64_t cacheElems = n * kKvHeads * kHeadDim;
    std::vector<uint16_t> cache(static_cast<size_t>(cacheElems));
    std::vector<float> q(static_cast<size_t>(n * kHeads * kHeadDim));
    std::vector<int32_t> slots(static_cast<size_t>(n), 0), positions(static_cast<size_t>(n));
    std::mt19937 rng(11);
    std::normal_distribution<float> dist;
    for (uint16_t& h : cache) h = reel::quant::f32ToF16(dist(rng));
    for (float& v : q) v = dist(rng);
    for (int64_t i = 0; i < n; ++i) positions[static_cast<size_t>(i)] = static_cast<int32_t>(i);
    void *kCache = nullptr, *vCache = nullptr;
    float *dq = nullptr, *out = nullptr;
    int32_t *dslots = nullptr, *dpos = nullptr;
    BENCH_CHECK(cudaMalloc(&kCache, cache.size() * 2));
    BENCH_CHECK(cudaMalloc(&vCache, cache.size() * 2));
    BENCH_CHECK(cudaMalloc(&dq, q.size() * 4));
    BENCH_CHECK(cudaMalloc(&out, q.size() * 4));
    BENCH_CHECK(cudaMalloc(&dslots, slots.size() * 4));
    BENCH_CHECK(cudaMalloc(&dpos, positions.size() * 4));
    BENCH_CHECK(cudaMemcpy(kCache, cache.data(), cache.size() * 2, cudaMemcpyHostToDevice));
    BENCH_CHECK(cudaMemcpy(vCache, cache.data(), cache.size() * 2, cudaMemcpyHostToDevice));
    BENCH_CHECK(cudaMemcpy(dq, q.data(), q.size() * 4, cudaMemcpyHostToDevice));
    BENCH_CHECK(cudaMemcpy(dslots, slots.data(), slots.size() * 4, cudaMemcpyHostToDevice));
    BENCH_CHECK(cudaMemcpy(dpos, positions.data(), positions.size() * 4, cudaMemcpyHostToDevice));
    reel::kernels::AttentionArgs a;
    a.mode = reel::kernels::AttentionMode::Prefill;
    a.q = dq;
    a.kCache = kCache;
    a.vCache = vCache;
    a.slots = dslots;
    a.positions = dpos;
    a.out = out;
    a.m = n;
    a.nHeads = kHeads;
    a.nKvHeads = kKvHeads;
    a.headDim = kHeadDim;
    a.maxCtx = n;
    a.qStride = kHeads * kHeadDim;
    a.scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
    // Q K^T and P V over the causal half: 2 x 2 x n (n + 1) / 2 x head_dim per query head.
    const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n + 1) * kHeadDim * kHeads;
    const struct {
      const char* name;
      cudaError_t (*launch)(const reel::kernels::AttentionArgs&, cudaStream_t);
    } kernels[] = {{"attn_prefill", reel::kernels::launchAttention},
                   {"attn_prefill_flash", reel::kernels::launchAttentionPrefillFlash}};
    for (const auto& k : kernels) {
      const double ms = prefillMilliseconds([&] { return k.launch(a, stream); }, n <= 2048 ? 10 : 3, stream);
      std::printf("%6lld %22s %10.3f %12.1f %10.1f\n", static_cast<long long>(n), k.name, ms, ms * kLayers,
                  flops / (ms * 1e-3) * 1e-12);
      std::fflush(stdout);
    }
    cudaFree(kCache);
    cudaFree(vCache);
    cudaFree(dq);
    cudaFree(out);
    cudaFree(dslots);
    cudaFree(dpos);
  }
}

}  // namespace

/// `--mmq-case TYPE N K M`: one mmq shape at its default launch, as a profiler's target.
struct MmqCase {
  bool given = false;
  Case c{"mmq case", QType::Q4_K, 0, 0, 1, GemvEpilogue::Plain};
};

MmqCase parseMmqCase(int argc, char** argv) {
  MmqCase one;
  if (argc != 6 || std::string_view(argv[1]) != "--mmq-case") return one;
  const auto number = [](const char* text) {
    char* end = nullptr;
    const long long v = std::strtoll(text, &end, 10);
    return end != text && *end == '\0' && v > 0 && v <= (1 << 20) ? static_cast<int64_t>(v) : int64_t{0};
  };
  one.c.n = number(argv[3]);
  one.c.k = number(argv[4]);
  one.c.m = static_cast<int>(number(argv[5]));
  one.given = reel::quant::parseQType(argv[2], one.c.type) && one.c.n > 0 && one.c.k > 0 && one.c.m > 0;
  return one;
}

int main(int argc, char** argv) {
  const bool sweep = argc > 1 && std::string_view(argv[1]) == "--row-sets";
  const bool mmaF16Only = argc > 1 && std::string_view(argv[1]) == "--mma-f16";
  const bool mmq = mmaF16Only || (argc > 1 && std::string_view(argv[1]) == "--mmq");
  const bool prefill = argc > 1 && std::string_view(argv[1]) == "--prefill-attention";
  const MmqCase mmqCase = parseMmqCase(argc, argv);
  if (!mmqCase.given && (argc > 2 || (argc > 1 && !sweep && !mmq && !prefill))) {
    std::fprintf(
        stderr, "usage: kernel_bench [--row-sets | --mmq | --mma-f16 | --prefill-attention | --mmq-case TYPE N K M]\n");
    return 2;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    std::printf("kernel_bench: no CUDA device\n");
    return 77;
  }
  cudaStream_t stream = nullptr;
  BENCH_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  std::printf("kernel_bench on %s (%d SMs)\n", prop.name, prop.multiProcessorCount);
  if (mmqCase.given) {
    Mode mode;
    mode.mmq = true;
    const Result r = runCase(mmqCase.c, mode, stream);
    std::printf("mmq %s n=%lld k=%lld m=%lld: %.2f us\n", reel::quant::qtypeName(mmqCase.c.type).data(),
                static_cast<long long>(mmqCase.c.n), static_cast<long long>(mmqCase.c.k),
                static_cast<long long>(mmqCase.c.m), r.seconds * 1e6);
    cudaStreamDestroy(stream);
    return 0;
  }
  if (prefill) {  // compute-bound: the bandwidth figures below do not enter it
    sweepPrefillAttention(stream);
    cudaStreamDestroy(stream);
    return 0;
  }
  const double copy = copyBandwidth(stream);
  std::printf("device-to-device copy: %.0f GB/s (read + write)\n", copy * 1e-9);
  const double read = readBandwidth(prop, stream);
  std::printf("read bandwidth: %.0f GB/s (the best streaming read above)\n", read * 1e-9);
  if (mmq) {
    sweepMmq(stream, read, mmaF16Only);
    cudaStreamDestroy(stream);
    return 0;
  }
  if (sweep) {
    sweepRowSets(stream);
    cudaStreamDestroy(stream);
    return 0;
  }

  const Case cases[] = {
      {"q4_k attn_q/k/o 4096x4096", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q4_k ffn_up 11008x4096", QType::Q4_K, 11008, 4096, 1, GemvEpilogue::Plain},
      {"q4_k ffn_gate+up fused", QType::Q4_K, 11008, 4096, 1, GemvEpilogue::GateUp},
      {"q4_k ffn_down 4096x11008", QType::Q4_K, 4096, 11008, 1, GemvEpilogue::Plain},
      {"q6_k attn_v 4096x4096", QType::Q6_K, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q6_k ffn_down 4096x11008", QType::Q6_K, 4096, 11008, 1, GemvEpilogue::Plain},
      {"q6_k output 32000x4096", QType::Q6_K, 32000, 4096, 1, GemvEpilogue::Plain},
      {"q4_k attn_q+k+v stacked", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain, 3},
      {"q4_k attn_q+k stacked", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain, 2},
      {"q4_k q+k, q6_k v stacked", QType::Q4_K, 4096, 4096, 1, GemvEpilogue::Plain, 3, QType::Q6_K},
      {"q8_0 4096x4096", QType::Q8_0, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q5_0 4096x4096", QType::Q5_0, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q4_0 4096x4096", QType::Q4_0, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q5_k 4096x4096", QType::Q5_K, 4096, 4096, 1, GemvEpilogue::Plain},
      {"q4_k ffn_up m=2", QType::Q4_K, 11008, 4096, 2, GemvEpilogue::Plain},
      {"q4_k ffn_up m=4", QType::Q4_K, 11008, 4096, 4, GemvEpilogue::Plain},
      {"q4_k ffn_up m=8", QType::Q4_K, 11008, 4096, 8, GemvEpilogue::Plain},
      {"q4_k gate+up m=8", QType::Q4_K, 11008, 4096, 8, GemvEpilogue::GateUp},
  };
  std::vector<Result> results;
  std::printf("%-28s %4s %9s %9s %7s %7s %7s\n", "case", "m", "us", "MB", "GB/s", "%3.1TB", "%read");
  for (const Case& c : cases) {
    const Result r = runCase(c, Mode{}, stream);
    results.push_back(r);
    std::printf("%-28s %4d %9.2f %9.2f %7.0f %6.1f%% %6.1f%%\n", c.name, c.m, r.seconds * 1e6, r.bytes * 1e-6,
                r.bytes / r.seconds * 1e-9, 100.0 * r.bytes / r.seconds / kPeakBytesPerSecond,
                100.0 * r.bytes / r.seconds / read);
  }
  // Llama-2-7B Q4_K_M at m = 1: 32 layers, Q6_K attn_v and ffn_down in half of them, Q6_K output
  // (cases 0..6 above), in three ways of chaining the launches.
  const struct {
    const char* name;
    Mode mode;
  } modes[] = {{"GEMVs, early start", {true, false}},
               {"GEMVs, plain launches", {false, false}},
               {"quantize+GEMV pairs, early start", {true, true}}};
  for (const auto& m : modes) {
    std::vector<Result> r(7);
    for (size_t i = 0; i < r.size(); ++i)
      r[i] = m.mode.earlyStart && !m.mode.quantizeFirst ? results[i] : runCase(cases[i], m.mode, stream);
    const Result &qko = r[0], &gateUp = r[2], &down4 = r[3], &v6 = r[4], &down6 = r[5], &output = r[6];
    const double seconds = 16 * (4 * qko.seconds + gateUp.seconds + down4.seconds) +
                           16 * (3 * qko.seconds + v6.seconds + gateUp.seconds + down6.seconds) + output.seconds;
    const double bytes = 16 * (4 * qko.bytes + gateUp.bytes + down4.bytes) +
                         16 * (3 * qko.bytes + v6.bytes + gateUp.bytes + down6.bytes) + output.bytes;
    std::printf(
        "llama-2-7b q4_k_m m=1, %-34s %6.0f us/token, %.2f GB, %5.0f GB/s = %5.1f%% of 3.1 TB/s, %5.1f%% of read (%.0f "
        "tok/s bound)\n",
        m.name, seconds * 1e6, bytes * 1e-9, bytes / seconds * 1e-9, 100.0 * bytes / seconds / kPeakBytesPerSecond,
        100.0 * bytes / seconds / read, 1.0 / seconds);
  }
  {
    // As the default pipeline lowers them: q, k, v stacked in one launch where attn_v is Q4_K,
    // q and k with a Q6_K v in one mixed stack (cases 7 and 9).
    const Result &o = results[0], &gateUp = results[2], &down4 = results[3], &down6 = results[5], &output = results[6],
                 &qkv = results[7], &qkv6 = results[9];
    const double seconds = 16 * (qkv.seconds + o.seconds + gateUp.seconds + down4.seconds) +
                           16 * (qkv6.seconds + o.seconds + gateUp.seconds + down6.seconds) + output.seconds;
    const double bytes = 16 * (qkv.bytes + o.bytes + gateUp.bytes + down4.bytes) +
                         16 * (qkv6.bytes + o.bytes + gateUp.bytes + down6.bytes) + output.bytes;
    std::printf(
        "llama-2-7b q4_k_m m=1, %-34s %6.0f us/token, %.2f GB, %5.0f GB/s = %5.1f%% of 3.1 TB/s, %5.1f%% of read (%.0f "
        "tok/s bound)\n",
        "q/k/v stacked GEMVs, early start", seconds * 1e6, bytes * 1e-9, bytes / seconds * 1e-9,
        100.0 * bytes / seconds / kPeakBytesPerSecond, 100.0 * bytes / seconds / read, 1.0 / seconds);
  }
  cudaStreamDestroy(stream);
  return 0;
}

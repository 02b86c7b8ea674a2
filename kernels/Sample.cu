// The sample kernel: one block of 1024 threads per row. Penalties go to the distinct recent
// tokens (their penalised logits in shared memory, a bitmap marks them); a greedy row takes the
// largest (value, index) key; a sampled row finds its top-k by a radix select over the 64-bit
// keys (no sort of the vocabulary), sorts those k in shared memory, and thread 0 applies top-p,
// min-p, the temperature and the draw in the candidates' order, as the CPU reference does
// (runtime/reference/RefSample.cpp). No result depends on how threads interleave: histogram
// counts and the candidate set are order-free, and every sum runs in one fixed order.
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/Sample.h"
#include "kernels/SampleMath.h"

namespace reel::kernels {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

struct SampleShared {
  uint64_t keys[kSampleMaxCandidates];
  float weights[kSampleMaxCandidates];
  int32_t tokens[kSampleWindow];  ///< distinct recent tokens (-1: a repeat or none)
  float values[kSampleWindow];    ///< their penalised logits
  uint32_t hist[256];
  uint64_t warpBest[kWarps];
  uint64_t prefix;
  uint32_t rank;
  uint32_t count;
  int32_t want;
  int32_t done;
};

/// Columns a thread loads before it looks at them (loads in flight, as argmax).
constexpr int kBatch = 8;

/// Calls f(key, i) for each column i of the thread's share, its key from the logit after the
/// penalties (a penalised token's value comes from s.values).
template <typename F>
__device__ __forceinline__ void forEachKey(const float* row, int n, const uint32_t* marked, const SampleShared& s,
                                           bool penalties, F f) {
  for (int base = threadIdx.x; base < n; base += kBatch * kThreads) {
    float v[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * kThreads;
      v[u] = i < n ? row[i] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * kThreads;
      if (i >= n) break;
      float x = v[u];
      if (penalties && ((marked[i >> 5] >> (i & 31)) & 1u) != 0) {
        for (int j = 0; j < kSampleWindow; ++j) {
          if (s.tokens[j] == i) {
            x = s.values[j];
            break;
          }
        }
      }
      f(candidateKey(x, static_cast<uint32_t>(i)), i);
    }
  }
}

/// Marks the distinct recent tokens in [0, n) and stores their penalised logits.
__device__ void preparePenalties(const float* row, const int32_t* recent, const SampleRow& p, int n, int window,
                                 uint32_t* marked, SampleShared& s) {
  for (int w = threadIdx.x; w < (n + 31) / 32; w += kThreads) marked[w] = 0;
  __syncthreads();
  if (threadIdx.x < kSampleWindow) {
    const int t = threadIdx.x;
    const int32_t token = t < window ? recent[t] : -1;
    bool first = token >= 0 && token < n;
    int32_t count = 0;
    for (int j = 0; first && j < window; ++j) {
      if (recent[j] == token) {
        if (j < t) first = false;
        ++count;
      }
    }
    s.tokens[t] = first ? token : -1;
    if (first) {
      s.values[t] = penalised(row[token], count, p);
      atomicOr(&marked[token >> 5], 1u << (token & 31));
    }
  }
  __syncthreads();
}

/// The largest key of the block (every thread gets it).
__device__ uint64_t blockMax(uint64_t key, SampleShared& s) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const uint64_t other = __shfl_xor_sync(0xffffffffu, key, offset);
    key = other > key ? other : key;
  }
  if (threadIdx.x % 32 == 0) s.warpBest[threadIdx.x / 32] = key;
  __syncthreads();
  uint64_t best = 0;
  for (int w = 0; w < kWarps; ++w) best = s.warpBest[w] > best ? s.warpBest[w] : best;
  __syncthreads();
  return best;
}

/// The smallest key among the `want` largest (s.prefix), by 8-bit digits from the top; stops as
/// soon as every key of the chosen prefix is wanted. Sets s.want to min(want, valid keys).
__device__ void selectThreshold(const float* row, int n, const uint32_t* marked, SampleShared& s, bool penalties) {
  if (threadIdx.x == 0) {
    s.prefix = 0;
    s.rank = static_cast<uint32_t>(s.want);
    s.done = 0;
  }
  __syncthreads();
  for (int shift = 56; shift >= 0; shift -= 8) {
    if (threadIdx.x < 256) s.hist[threadIdx.x] = 0;
    __syncthreads();
    const uint64_t high = shift == 56 ? 0 : ~uint64_t{0} << (shift + 8);
    const uint64_t prefix = s.prefix;
    forEachKey(row, n, marked, s, penalties, [&](uint64_t key, int) {
      if (key != 0 && (key & high) == (prefix & high)) atomicAdd(&s.hist[(key >> shift) & 255u], 1u);
    });
    __syncthreads();
    if (threadIdx.x == 0) {
      if (shift == 56) {
        uint32_t valid = 0;
        for (int d = 0; d < 256; ++d) valid += s.hist[d];
        if (valid <= s.rank) {
          // Every valid key is a candidate: the threshold is the smallest non-zero key.
          s.want = static_cast<int32_t>(valid);
          s.prefix = 1;
          s.done = 1;
        }
      }
      if (s.done == 0) {
        uint32_t above = 0;
        int digit = 255;
        for (; digit > 0 && above + s.hist[digit] < s.rank; --digit) above += s.hist[digit];
        s.rank -= above;
        s.prefix |= static_cast<uint64_t>(digit) << shift;
        if (s.hist[digit] == s.rank) s.done = 1;
      }
    }
    __syncthreads();
    if (s.done != 0) break;
  }
}

/// Sorts s.keys descending (kSampleMaxCandidates of them, one per thread).
__device__ void sortKeys(SampleShared& s) {
  const int i = threadIdx.x;
  for (int size = 2; size <= kSampleMaxCandidates; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      const int j = i ^ stride;
      if (j > i) {
        const bool descending = (i & size) == 0;
        const uint64_t a = s.keys[i], b = s.keys[j];
        if ((a < b) == descending) {
          s.keys[i] = b;
          s.keys[j] = a;
        }
      }
      __syncthreads();
    }
  }
}

/// Thread 0: how many sorted candidates top-p and min-p keep (s.weights holds exp(v - top)).
__device__ int keptCandidates(const SampleRow& p, int n, const SampleShared& s) {
  int kept = n;
  if (p.topP < 1.0f) {
    float sum = 0.0f;
    for (int j = 0; j < n; ++j) sum += s.weights[j];
    const float target = p.topP * sum;
    float cumulative = 0.0f;
    for (int j = 0; j < n; ++j) {
      cumulative += s.weights[j];
      if (cumulative >= target) {
        kept = j + 1;
        break;
      }
    }
  }
  if (p.minP > 0.0f) {
    int keep = 1;
    while (keep < kept && s.weights[keep] >= p.minP) ++keep;
    kept = keep;
  }
  return kept;
}

__global__ void __launch_bounds__(kThreads)
    sampleKernel(const float* logits, const SampleRow* sampling, const int32_t* recentAll, const int32_t* positions,
                 int32_t* out, int64_t n64) {
  __shared__ SampleShared s;
  extern __shared__ uint32_t marked[];
  detail::startAfterPrerequisites();
  const int n = static_cast<int>(n64);
  const float* row = logits + blockIdx.x * n64;
  const SampleRow p = sampling[blockIdx.x];
  const int window = min(max(p.penaltyLastN, 0), kSampleWindow);
  const bool penalties =
      window > 0 && (p.repeatPenalty != 1.0f || p.presencePenalty != 0.0f || p.frequencyPenalty != 0.0f);
  if (penalties) preparePenalties(row, recentAll + blockIdx.x * int64_t{kSampleWindow}, p, n, window, marked, s);

  if (!(p.temperature > 0.0f)) {
    uint64_t best = 0;
    forEachKey(row, n, marked, s, penalties, [&](uint64_t key, int) { best = key > best ? key : best; });
    best = blockMax(best, s);
    if (threadIdx.x == 0) out[blockIdx.x] = best == 0 ? 0 : keyIndex(best);
    return;
  }

  if (threadIdx.x == 0) s.want = p.topK > 0 ? min(p.topK, kSampleMaxCandidates) : kSampleMaxCandidates;
  __syncthreads();
  selectThreshold(row, n, marked, s, penalties);
  const uint64_t threshold = s.prefix;
  const int want = s.want;
  if (threadIdx.x == 0) s.count = 0;
  s.keys[threadIdx.x] = 0;
  __syncthreads();
  forEachKey(row, n, marked, s, penalties, [&](uint64_t key, int) {
    if (key != 0 && key >= threshold) {
      const uint32_t slot = atomicAdd(&s.count, 1u);
      if (slot < kSampleMaxCandidates) s.keys[slot] = key;
    }
  });
  __syncthreads();
  sortKeys(s);
  const int count = min(want, static_cast<int>(min(s.count, static_cast<uint32_t>(kSampleMaxCandidates))));
  if (count == 0) {
    if (threadIdx.x == 0) out[blockIdx.x] = 0;
    return;
  }
  const float top = keyValue(s.keys[0]);
  if (!isfinite(top)) {
    if (threadIdx.x == 0) out[blockIdx.x] = keyIndex(s.keys[0]);
    return;
  }
  if (threadIdx.x < count) s.weights[threadIdx.x] = expf(keyValue(s.keys[threadIdx.x]) - top);
  __syncthreads();
  if (threadIdx.x == 0) s.want = keptCandidates(p, count, s);
  __syncthreads();
  const int kept = s.want;
  if (threadIdx.x < kept) s.weights[threadIdx.x] = expf((keyValue(s.keys[threadIdx.x]) - top) / p.temperature);
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int j = 0; j < kept; ++j) sum += s.weights[j];
    const float target = counterUniform(sampleSeed(p), positions[blockIdx.x]) * sum;
    float cumulative = 0.0f;
    int chosen = kept - 1;
    for (int j = 0; j < kept; ++j) {
      cumulative += s.weights[j];
      if (cumulative > target) {
        chosen = j;
        break;
      }
    }
    out[blockIdx.x] = keyIndex(s.keys[chosen]);
  }
}

}  // namespace

cudaError_t launchSample(const SampleArgs& args, cudaStream_t stream) {
  if (args.m < 1 || args.n < 1 || args.n > kSampleMaxVocab) return cudaErrorInvalidValue;
  const LaunchDims d = sampleDims(args.m, args.n);
  return detail::launchEarly(sampleKernel, d, stream, args.logits, static_cast<const SampleRow*>(args.sampling),
                             args.recent, args.positions, args.out, args.n);
}

}  // namespace reel::kernels

#include "runtime/gpu/GpuRuntime.h"

#include "runtime/gpu/CudaCheck.h"
#include "runtime/gpu/StepTimer.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace reel::gpu {

using codegen::BucketPlan;

namespace {

const char* phaseName(Phase phase) {
  return phase == Phase::Prefill ? "prefill" : "decode";
}

bool isSelected(const RuntimeOptions& options, const BucketPlan& bucket) {
  return options.buckets.empty() ||
         std::find(options.buckets.begin(), options.buckets.end(), bucket.graph) != options.buckets.end();
}

/// The weight slots the selected buckets read.
std::vector<bool> slotsUsed(const codegen::Plan& plan, const RuntimeOptions& options) {
  std::vector<bool> used(plan.weights.size(), false);
  for (const BucketPlan& bucket : plan.buckets) {
    if (!isSelected(options, bucket)) continue;
    for (const codegen::Step& step : bucket.steps)
      for (const codegen::BufferRef& ref : step.ptrs)
        if (ref.kind == codegen::BufferKind::Weight && ref.index >= 0 && ref.index < static_cast<int64_t>(used.size()))
          used[static_cast<size_t>(ref.index)] = true;
  }
  return used;
}

static_assert(decode::kSamplingWords == kernels::kSampleRowWords && decode::kMaxPenaltyLastN == kernels::kSampleWindow,
              "the scheduler packs the sample kernel's step inputs");

/// The vocabulary size: the columns of the argmax (or sample) over the logits.
int64_t vocabOf(const codegen::Plan& plan) {
  for (const BucketPlan& bucket : plan.buckets)
    for (const codegen::Step& step : bucket.steps)
      if (step.kernel == "argmax" || step.kernel == "sample") {
        if (step.ints.size() < 2 || step.ints[1] < 1 || step.ints[1] > INT32_MAX)
          failPlain("plan of {}: @{}'s {} step has no valid vocabulary size", plan.model, bucket.graph, step.kernel);
        return step.ints[1];
      }
  failPlain("plan of {}: no argmax or sample step (the runtime needs the next tokens computed on the GPU)", plan.model);
}

/// Whether some step of the plan samples (reads the sampling step inputs).
bool planSamples(const codegen::Plan& plan) {
  for (const BucketPlan& bucket : plan.buckets)
    for (const codegen::Step& step : bucket.steps)
      if (step.kernel == "sample") return true;
  return false;
}

int64_t largestDecodeRows(const codegen::Plan& plan, const RuntimeOptions& options) {
  int64_t rows = 1;
  for (const BucketPlan& bucket : plan.buckets)
    if (bucket.phase == "decode" && isSelected(options, bucket)) rows = std::max(rows, bucket.m);
  return rows;
}

}  // namespace

bool gpuAvailable() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

void requireGpu(const std::string& who) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess && count > 0) return;
  failPlain("{}: no usable CUDA device ({})", who, status == cudaSuccess ? "none found" : cudaGetErrorString(status));
}

std::string gpuName() {
  cudaDeviceProp props{};
  checkCuda(cudaGetDeviceProperties(&props, 0), "asking for the GPU's properties");
  return props.name;
}

GpuRuntime::GpuRuntime(codegen::Plan plan, const GgufFile& file, const RuntimeOptions& options)
    : plan_((requireGpu("GPU runtime"), std::move(plan))), options_(options), ledger_(options.gpuMemoryLimit) {
  for (const std::string& name : options_.buckets)
    if (std::none_of(plan_.buckets.begin(), plan_.buckets.end(), [&](const BucketPlan& b) { return b.graph == name; }))
      failPlain("plan of {}: no bucket @{}", plan_.model, name);
  const std::string& faulty = options_.failCapture.bucket;
  if (!faulty.empty() && std::none_of(plan_.buckets.begin(), plan_.buckets.end(), [&](const BucketPlan& b) {
        return b.graph == faulty && isSelected(options_, b);
      }))
    failPlain("plan of {}: no loaded bucket @{} to fail the capture of", plan_.model, faulty);
  vocab_ = vocabOf(plan_);
  samples_ = planSamples(plan_);
  weights_ = uploadWeights({&plan_, &file, slotsUsed(plan_, options_), options_.progress, stream_.get(), &ledger_});
  const int64_t slots = options_.kvSlots > 0 ? options_.kvSlots : largestDecodeRows(plan_, options_);
  buffers_ = std::make_unique<RuntimeBuffers>(plan_, kvLayoutOf(plan_, slots), ledger_);
  blasWorkspace_ = DeviceBuffer(options_.blasWorkspaceBytes, "cuBLAS workspace", &ledger_);
  const std::string blasAction = "creating the cuBLAS handles";
  const size_t freeBeforeBlas = freeGpuBytes();
  const cudaError_t blasStatus = kernels::createBlasContext(blas_.context, blasWorkspace_.get(), blasWorkspace_.size());
  if (blasStatus == cudaErrorMemoryAllocation) failPlain("{}", describeOutOfGpuMemory(blasAction, 0, &ledger_));
  checkCuda(blasStatus, blasAction);
  blasMemory_ = DriverMemory(freeBeforeBlas, "cuBLAS handles", blasAction, &ledger_);
  hostInputs_ = PinnedBuffer(static_cast<size_t>(stepInputValues(buffers_->maxRows(), samples_)) * sizeof(int32_t));
  hostTokens_ = PinnedBuffer(static_cast<size_t>(buffers_->maxRows()) * sizeof(int32_t));
  for (const BucketPlan& bucket : plan_.buckets)
    if (isSelected(options_, bucket)) loadBucket(bucket);
}

GpuRuntime::~GpuRuntime() {
  (void)cudaStreamSynchronize(stream_.get());
  buckets_.clear();  // the graphs before the memory they point to
}

void GpuRuntime::loadBucket(const BucketPlan& bucket) {
  LoadedBucket& loaded = buckets_.emplace_back();
  loaded.plan = &bucket;
  loaded.schedule = bindSchedule(bucket, {buffers_.get(), &weights_, &blas_.context});
  // One eager run on padding rows (nothing is written to the KV cache): library plans and
  // lazily loaded kernels are set up outside the capture, and any launch error shows here.
  copyInputs(loaded, StepRows{});
  runEager(loaded.schedule, stream_.get());
  checkCuda(cudaStreamSynchronize(stream_.get()), "running @" + bucket.graph + " once before capturing it");
  if (!options_.useGraphs) return;
  CaptureSetup setup{stream_.get(), &ledger_, CaptureFault::None};
  if (options_.failCapture.bucket == bucket.graph) setup.fault = options_.failCapture.fault;
  std::string whyNot;
  loaded.graph = CapturedGraph::capture(loaded.schedule, setup, whyNot);
  if (loaded.graph) return;
  // The bucket runs eagerly: the stream must be as usable as before the capture.
  checkCuda(cudaStreamSynchronize(stream_.get()), "the stream after the failed capture of @" + bucket.graph);
  captureFailures_.push_back(fmt::format("@{}: {}", bucket.graph, whyNot));
  if (options_.progress)
    std::fprintf(stderr, "reel: warning: capturing @%s failed (%s); running it eagerly\n", bucket.graph.c_str(),
                 whyNot.c_str());
}

const BucketPlan* GpuRuntime::bucketFor(Phase phase, int64_t rows, int64_t longestKv) const {
  const BucketPlan* best = nullptr;
  for (const LoadedBucket& loaded : buckets_) {
    const BucketPlan& b = *loaded.plan;
    if (b.phase != phaseName(phase) || b.m < rows || (b.minContext > 0 && longestKv <= b.minContext)) continue;
    if (!best || b.m < best->m || (b.m == best->m && b.minContext > best->minContext)) best = &b;
  }
  return best;
}

int64_t GpuRuntime::largestRows(Phase phase) const {
  int64_t rows = 0;
  for (const LoadedBucket& loaded : buckets_)
    if (loaded.plan->phase == phaseName(phase)) rows = std::max(rows, loaded.plan->m);
  return rows;
}

decode::KvGeometry GpuRuntime::kvGeometry() const {
  return {buffers_->kv().slots, buffers_->kv().positions};
}

decode::StepInfo GpuRuntime::lastStep() const {
  if (!last_) return {};
  return {last_->plan->graph, last_->plan->m, lastUsedGraph_ ? "CUDA graph" : "eager"};
}

void GpuRuntime::checkRows(const StepRows& rows) const {
  const size_t n = rows.tokens.size();
  if (n == 0 || rows.positions.size() != n || rows.kvLens.size() != n || rows.slots.size() != n)
    failPlain("GPU step: {} tokens, {} positions, {} KV lengths and {} slots (expected as many, at least one)", n,
              rows.positions.size(), rows.kvLens.size(), rows.slots.size());
  if ((!rows.sampling.empty() && rows.sampling.size() != n * decode::kSamplingWords) ||
      rows.recent.size() != (rows.sampling.empty() ? 0 : n * decode::kMaxPenaltyLastN))
    failPlain("GPU step: {} rows but {} sampling words and {} recent tokens", n, rows.sampling.size(),
              rows.recent.size());
  const KvLayout& kv = buffers_->kv();
  for (size_t i = 0; i < n; ++i) {
    if (rows.positions[i] < 0 || rows.positions[i] >= kv.positions || rows.kvLens[i] > kv.positions)
      failPlain(
          "context full: row {} needs position {}, the KV cache holds {} positions per sequence (compile with a "
          "larger --ctx)",
          i, rows.positions[i], kv.positions);
    if (rows.slots[i] < 0 || rows.slots[i] >= kv.slots)
      failPlain("GPU step: row {} uses KV slot {}, the cache has {} slots", i, rows.slots[i], kv.slots);
    if (rows.tokens[i] < 0 || rows.tokens[i] >= vocab_)
      failPlain("GPU step: row {} has token {}, outside the vocabulary of {}", i, rows.tokens[i], vocab_);
    if (rows.kvLens[i] < 1)
      failPlain("GPU step: row {} has KV length {} (live rows need at least 1)", i, rows.kvLens[i]);
  }
}

/// Writes the live rows, padded to the bucket's m (token 0, position 0, KV length 0, slot -1),
/// into pinned memory and copies them to the fixed step-input buffer in one transfer.
void GpuRuntime::copyInputs(const LoadedBucket& bucket, const StepRows& rows) {
  const int64_t m = bucket.plan->m;
  auto* host = hostInputs_.as<int32_t>();
  const std::vector<int32_t>* fields[] = {&rows.tokens, &rows.positions, &rows.kvLens, &rows.slots};
  const int32_t padding[] = {0, 0, 0, -1};
  for (int64_t f = 0; f < 4; ++f) {
    const std::vector<int32_t>& values = *fields[f];
    std::copy(values.begin(), values.end(), host + f * m);
    std::fill(host + f * m + static_cast<int64_t>(values.size()), host + (f + 1) * m, padding[f]);
  }
  if (samples_) copySampling(rows, m, host);
  checkCuda(
      cudaMemcpyAsync(buffers_->stepInputs(), host, static_cast<size_t>(stepInputValues(m, samples_)) * sizeof(int32_t),
                      cudaMemcpyHostToDevice, stream_.get()),
      "copying the step inputs to the GPU");
}

/// The sampling inputs of a bucket of m rows: each row's parameters and recent tokens, greedy
/// ones (no recent tokens) for rows without (all rows when `rows` does not sample, and padding).
void GpuRuntime::copySampling(const StepRows& rows, int64_t m, int32_t* host) const {
  int32_t* params = host + stepInputStart(codegen::StepInput::Sampling, m);
  int32_t* recent = host + stepInputStart(codegen::StepInput::RecentTokens, m);
  std::copy(rows.sampling.begin(), rows.sampling.end(), params);
  for (auto r = static_cast<int64_t>(rows.sampling.size()) / decode::kSamplingWords; r < m; ++r)
    decode::packSampling({}, params + r * decode::kSamplingWords);
  std::copy(rows.recent.begin(), rows.recent.end(), recent);
  std::fill(recent + static_cast<int64_t>(rows.recent.size()), recent + m * decode::kMaxPenaltyLastN, -1);
}

const GpuRuntime::LoadedBucket& GpuRuntime::bucketOf(Phase phase, const StepRows& rows) const {
  checkRows(rows);
  const auto n = static_cast<int64_t>(rows.tokens.size());
  const int64_t longestKv = *std::max_element(rows.kvLens.begin(), rows.kvLens.end());
  const BucketPlan* plan = bucketFor(phase, std::max(n, rows.minBucketRows), longestKv);
  if (!plan)
    failPlain("no {} bucket holds {} rows (the largest loaded has {})", phaseName(phase),
              std::max(n, rows.minBucketRows), largestRows(phase));
  return *std::find_if(buckets_.begin(), buckets_.end(), [&](const LoadedBucket& b) { return b.plan == plan; });
}

const std::vector<int32_t>& GpuRuntime::step(Phase phase, const StepRows& rows) {
  const LoadedBucket& bucket = bucketOf(phase, rows);
  const auto n = static_cast<int64_t>(rows.tokens.size());
  if (rows.sampled() && !samples_)
    failPlain("GPU step: the rows sample, but the plan of {} takes the argmax of the logits (compile with sampling)",
              plan_.model);
  copyInputs(bucket, rows);
  lastUsedGraph_ = bucket.graph && !eager_;
  if (lastUsedGraph_)
    bucket.graph->launch(stream_.get());
  else
    runEager(bucket.schedule, stream_.get());
  checkCuda(cudaMemcpyAsync(hostTokens_.as<int32_t>(), buffers_->nextTokens(), static_cast<size_t>(n) * sizeof(int32_t),
                            cudaMemcpyDeviceToHost, stream_.get()),
            "copying the next tokens from the GPU");
  checkCuda(cudaStreamSynchronize(stream_.get()), "running @" + bucket.plan->graph);
  next_.assign(hostTokens_.as<int32_t>(), hostTokens_.as<int32_t>() + n);
  last_ = &bucket;
  lastRows_ = n;
  return next_;
}

std::vector<float> GpuRuntime::timeEachLaunch(Phase phase, const StepRows& rows) {
  const LoadedBucket& bucket = bucketOf(phase, rows);
  copyInputs(bucket, rows);
  checkCuda(cudaStreamSynchronize(stream_.get()), "copying the step inputs to the GPU");
  std::vector<float> milliseconds = timeEachStep(bucket.schedule, stream_.get());
  last_ = &bucket;
  lastRows_ = static_cast<int64_t>(rows.tokens.size());
  lastUsedGraph_ = false;
  return milliseconds;
}

std::vector<float> GpuRuntime::logitsRow(int64_t row) const {
  if (!last_ || row < 0 || row >= lastRows_) failPlain("GPU runtime: no logits row {} in the last step", row);
  if (last_->plan->logitsOffset < 0) failPlain("plan bucket @{} keeps no logits", last_->plan->graph);
  std::vector<float> logits(static_cast<size_t>(vocab_));
  const uint8_t* source = buffers_->arena() + last_->plan->logitsOffset + row * vocab_ * 4;
  checkCuda(cudaMemcpy(logits.data(), source, logits.size() * sizeof(float), cudaMemcpyDeviceToHost),
            "copying logits from the GPU");
  return logits;
}

void GpuRuntime::poison() {
  buffers_->poison(stream_.get());
}

}  // namespace reel::gpu

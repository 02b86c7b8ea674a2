#include "codegen/PlanFile.h"

#include "codegen/PlanCheck.h"
#include "support/Diagnostics.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace reel::codegen {
namespace {

using nlohmann::json;

constexpr const char* kMagic = "reel-plan";
constexpr int64_t kMaxCount = 1 << 22;           // any list in a plan
constexpr int64_t kMaxBytes = int64_t(1) << 42;  // 4 TiB: any size or offset

const char* const kBufferNames[] = {"null", "arena", "weight", "step", "kv", "scratch"};

json dimsJson(const kernels::LaunchDims& dims) {
  return json{{"grid", dims.grid}, {"block", dims.block}, {"smem", dims.smemBytes}};
}

json stepJson(const Step& step) {
  json ptrs = json::array();
  for (const BufferRef& ref : step.ptrs)
    ptrs.push_back(json::array({kBufferNames[static_cast<int>(ref.kind)], ref.index, ref.offset}));
  return json{{"kernel", step.kernel},  {"dims", dimsJson(step.dims)},     {"ptrs", ptrs},
              {"ints", step.ints},      {"floats", step.floats},           {"op", step.op},
              {"us", step.predictedUs}, {"weight_bytes", step.weightBytes}};
}

/// Reads a JSON document with a path for messages: "buckets[2].steps[17].kernel".
class Reader {
 public:
  Reader(const json& node, std::string file, std::string path)
      : node_(node), file_(std::move(file)), path_(std::move(path)) {}

  [[noreturn]] void error(const std::string& message) const {
    failPlain("{}: {}: {}", file_, path_.empty() ? "top level" : path_, message);
  }
  Reader at(const char* key) const {
    if (!node_.is_object()) error("expected an object");
    auto it = node_.find(key);
    if (it == node_.end()) Reader(node_, file_, join(key)).error("missing");
    return Reader(*it, file_, join(key));
  }
  Reader at(size_t index) const { return Reader(node_[index], file_, path_ + "[" + std::to_string(index) + "]"); }
  size_t arraySize(int64_t max = kMaxCount) const {
    if (!node_.is_array()) error("expected an array");
    if (static_cast<int64_t>(node_.size()) > max) error(fmt::format("more than {} entries", max));
    return node_.size();
  }
  int64_t integer(int64_t lo = 0, int64_t hi = kMaxBytes) const {
    if (!node_.is_number_integer()) error("expected an integer");
    if (node_.is_number_unsigned() && node_.get<uint64_t>() > uint64_t(INT64_MAX))
      error(fmt::format("{} is out of range [{}, {}]", node_.get<uint64_t>(), lo, hi));
    const auto value = node_.get<int64_t>();
    if (value < lo || value > hi) error(fmt::format("{} is out of range [{}, {}]", value, lo, hi));
    return value;
  }
  uint64_t unsignedInteger() const {
    if (!node_.is_number_unsigned()) error("expected an unsigned integer");
    return node_.get<uint64_t>();
  }
  double number() const {
    if (!node_.is_number()) error("expected a number");
    return node_.get<double>();
  }
  /// A number that is finite and fits a float (kernel float arguments).
  float float32() const {
    const double value = number();
    if (!std::isfinite(value) || std::fabs(value) > std::numeric_limits<float>::max())
      error(fmt::format("{} is not a finite 32-bit float", value));
    return static_cast<float>(value);
  }
  /// A finite number >= 0 (times, bandwidths).
  double nonNegative() const {
    const double value = number();
    if (!std::isfinite(value) || value < 0) error(fmt::format("{} is not a finite number >= 0", value));
    return value;
  }
  std::string string() const {
    if (!node_.is_string()) error("expected a string");
    return node_.get<std::string>();
  }
  template <size_t N>
  int oneOf(const char* const (&names)[N]) const {
    std::string value = string();
    for (size_t i = 0; i < N; ++i)
      if (value == names[i]) return static_cast<int>(i);
    error(fmt::format("unknown value \"{}\"", value));
  }
  /// A weight layout by its IR name (ir::weightLayoutName).
  [[nodiscard]] WeightLayout layout() const {
    const std::string value = string();
    const std::optional<WeightLayout> layout = ir::parseWeightLayout(value);
    if (!layout) error(fmt::format("unknown value \"{}\"", value));
    return *layout;
  }

 private:
  std::string join(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  const json& node_;
  std::string file_;
  std::string path_;
};

kernels::LaunchDims readDims(const Reader& r) {
  kernels::LaunchDims dims;
  for (const char* key : {"grid", "block"}) {
    Reader list = r.at(key);
    if (list.arraySize() != 3) list.error("expected 3 dimensions");
    for (size_t i = 0; i < 3; ++i)
      (key[0] == 'g' ? dims.grid : dims.block)[i] = static_cast<uint32_t>(list.at(i).integer(1, INT32_MAX));
  }
  dims.smemBytes = static_cast<uint32_t>(r.at("smem").integer(0, 227 * 1024));
  return dims;
}

BufferRef readBufferRef(const Reader& r) {
  if (r.arraySize() != 3) r.error("expected [kind, index, offset]");
  BufferRef ref;
  ref.kind = static_cast<BufferKind>(r.at(size_t{0}).oneOf(kBufferNames));
  ref.index = r.at(1).integer(0, kMaxCount);
  ref.offset = r.at(2).integer();
  return ref;
}

/// Reads a step's fields; what they mean (the kernel, its arguments, where its pointers land)
/// is checkPlan's to judge once the whole plan is read.
Step readStep(const Reader& r) {
  Step step;
  step.kernel = r.at("kernel").string();
  step.dims = readDims(r.at("dims"));
  Reader ptrs = r.at("ptrs");
  for (size_t i = 0, n = ptrs.arraySize(kernels::kMaxPtrArgs); i < n; ++i)
    step.ptrs.push_back(readBufferRef(ptrs.at(i)));
  Reader ints = r.at("ints");
  for (size_t i = 0, n = ints.arraySize(kernels::kMaxIntArgs); i < n; ++i)
    step.ints.push_back(ints.at(i).integer(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  Reader floats = r.at("floats");
  for (size_t i = 0, n = floats.arraySize(kernels::kMaxFloatArgs); i < n; ++i)
    step.floats.push_back(floats.at(i).float32());
  step.op = r.at("op").string();
  step.predictedUs = r.at("us").nonNegative();
  step.weightBytes = r.at("weight_bytes").integer();
  return step;
}

KvCacheShape readKvCache(const Reader& r) {
  KvCacheShape kv;
  kv.layers = r.at("layers").integer(0, 1 << 16);
  kv.kvHeads = r.at("kv_heads").integer(0, 1 << 16);
  kv.headDim = r.at("head_dim").integer(0, 1 << 16);
  if ((kv.layers == 0) != (kv.kvHeads == 0) || (kv.layers == 0) != (kv.headDim == 0))
    r.error("layers, kv_heads and head_dim must be all positive, or all 0 (no KV cache)");
  return kv;
}

}  // namespace

uint64_t hashConfigText(const std::string& canonicalText) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : canonicalText) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

std::string planToJson(const Plan& plan) {
  json weights = json::array();
  for (const WeightSlot& w : plan.weights)
    weights.push_back({{"tensor", w.tensor},
                       {"qtype", w.qtype},
                       {"layout", weightLayoutName(w.layout)},
                       {"rows", w.rows},
                       {"cols", w.cols},
                       {"bytes", w.bytes}});
  json buckets = json::array();
  for (const BucketPlan& b : plan.buckets) {
    json steps = json::array();
    for (const Step& step : b.steps) steps.push_back(stepJson(step));
    buckets.push_back({{"graph", b.graph},
                       {"phase", b.phase},
                       {"m", b.m},
                       {"arena_bytes", b.arenaBytes},
                       {"min_context", b.minContext},
                       {"logits_offset", b.logitsOffset},
                       {"steps", steps}});
  }
  json doc{{"format", kMagic},
           {"version", plan.formatVersion},
           {"model", plan.model},
           {"config_hash", plan.configHash},
           {"gpu", plan.gpuProfile},
           {"bandwidth_gbs", plan.bandwidthGBs},
           {"pipeline", plan.pipeline},
           {"max_context", plan.maxContext},
           {"scratch_bytes", plan.scratchBytes},
           {"kv_cache",
            {{"layers", plan.kvCache.layers}, {"kv_heads", plan.kvCache.kvHeads}, {"head_dim", plan.kvCache.headDim}}},
           {"weights", weights},
           {"buckets", buckets},
           {"ir", plan.moduleIr}};
  return doc.dump(1) + "\n";
}

Plan planFromJson(const std::string& text, const std::string& fileName) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& error) {
    failPlain("{}: byte {}: not a plan file (invalid JSON)", fileName, error.byte);
  } catch (const json::exception&) {  // out_of_range: a number beyond double ("1e999")
    failPlain("{}: not a plan file (invalid JSON: a number out of range)", fileName);
  }
  Reader root(doc, fileName, "");
  if (!doc.is_object() || !doc.contains("format") || !doc["format"].is_string() || doc["format"] != kMagic)
    failPlain("{}: not a reel plan file", fileName);
  Plan plan;
  plan.formatVersion = static_cast<int>(root.at("version").integer(0, 1 << 20));
  if (plan.formatVersion != kPlanFormatVersion)
    failPlain("{}: plan format version {} is not supported (this reel reads version {}); recompile the plan", fileName,
              plan.formatVersion, kPlanFormatVersion);
  plan.model = root.at("model").string();
  plan.configHash = root.at("config_hash").unsignedInteger();
  plan.gpuProfile = root.at("gpu").string();
  plan.bandwidthGBs = root.at("bandwidth_gbs").nonNegative();
  plan.pipeline = root.at("pipeline").string();
  plan.maxContext = root.at("max_context").integer(1, 1 << 24);
  plan.scratchBytes = root.at("scratch_bytes").integer();
  plan.kvCache = readKvCache(root.at("kv_cache"));
  Reader weights = root.at("weights");
  for (size_t i = 0, n = weights.arraySize(); i < n; ++i) {
    Reader w = weights.at(i);
    plan.weights.push_back({w.at("tensor").string(), w.at("qtype").string(), w.at("layout").layout(),
                            w.at("rows").integer(1), w.at("cols").integer(1), w.at("bytes").integer(1)});
  }
  Reader buckets = root.at("buckets");
  for (size_t i = 0, n = buckets.arraySize(1024); i < n; ++i) {
    Reader b = buckets.at(i);
    BucketPlan bucket;
    bucket.graph = b.at("graph").string();
    bucket.phase = b.at("phase").string();
    bucket.m = b.at("m").integer(1, 1 << 20);
    bucket.arenaBytes = b.at("arena_bytes").integer();
    bucket.minContext = b.at("min_context").integer(0, 1 << 24);
    bucket.logitsOffset = b.at("logits_offset").integer(-1);
    if (bucket.logitsOffset >= bucket.arenaBytes) b.at("logits_offset").error("beyond the arena");
    Reader steps = b.at("steps");
    for (size_t s = 0, count = steps.arraySize(); s < count; ++s) bucket.steps.push_back(readStep(steps.at(s)));
    plan.buckets.push_back(std::move(bucket));
  }
  plan.moduleIr = root.at("ir").string();
  checkPlan(plan, fileName);
  return plan;
}

void writePlanFile(const Plan& plan, const std::string& path) {
  std::ofstream file(path, std::ios::binary);
  if (!file) failPlain("{}: cannot open for writing", path);
  file << planToJson(plan);
  if (!file) failPlain("{}: write failed", path);
}

bool isPlanFile(const std::string& path) {
  const std::filesystem::path name(path);
  if (name.extension() == ".plan") return true;
  if (name.extension() != ".json") return false;
  std::ifstream file(path, std::ios::binary);
  if (!file) return false;
  const json doc = json::parse(file, nullptr, /*allow_exceptions=*/false);
  return doc.is_object() && doc.contains("format") && doc["format"] == kMagic;
}

Plan readPlanFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) failPlain("{}: cannot open file", path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return planFromJson(buffer.str(), path);
}

}  // namespace reel::codegen

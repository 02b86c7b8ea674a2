#include "passes/GpuProfile.h"

#include "ir/DecisionAttrs.h"
#include "ir/Types.h"
#include "kernels/KernelCatalog.h"
#include "support/Diagnostics.h"
#include "support/TomlParse.h"

#include <fmt/format.h>
#include <llvm/ADT/StringRef.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>

namespace reel::passes {

namespace detail {
/// The bundled profiles: (stem of passes/profiles/<stem>.toml, its text), sorted by stem.
/// Generated at build time (passes/CMakeLists.txt).
const std::vector<std::pair<std::string_view, std::string_view>>& bundledGpuProfileTexts();
}  // namespace detail

namespace {

/// The profile `--gpu auto` falls back to.
constexpr const char* kFallbackProfile = "h100";

GpuDetector gDetector = nullptr;

/// The largest prefill chunk a profile may name (the largest --prefill-tokens).
constexpr int64_t kMaxPrefillTokens = int64_t{1} << 16;

std::string describeValue(const toml::node& node) {
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  std::ostringstream out;
  node.visit([&out](const auto& value) { out << value; });
  std::string text = out.str();
  for (char& c : text)
    if (std::iscntrl(static_cast<unsigned char>(c))) c = ' ';
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

/// Reads the typed keys of one table of a profile; every mistake reported at its place.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string title, const std::string& file)
      : table_(table), title_(std::move(title)), file_(file) {}

  void rejectUnknownKeys(const std::vector<std::string_view>& known) const {
    for (const auto& [key, node] : table_) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      std::string near;
      for (std::string_view candidate : known)
        if (llvm::StringRef(key.str().data(), key.str().size())
                .edit_distance(llvm::StringRef(candidate.data(), candidate.size())) <= 2)
          near = fmt::format(" (did you mean '{}'?)", candidate);
      fail(support::tomlLocation(file_, key.source()), "unknown key '{}' in {}{}", key.str(), title_, near);
    }
  }

  [[nodiscard]] const toml::node* find(std::string_view key) const { return table_.get(key); }

  std::string string(std::string_view key, std::optional<std::string> fallback = std::nullopt) const {
    const toml::node* node = find(key);
    if (!node) return require(key, std::move(fallback));
    if (!node->is_string()) reject(*node, key, "must be a string");
    return node->as_string()->get();
  }

  int64_t integer(std::string_view key, std::optional<int64_t> fallback = std::nullopt, int64_t min = 1) const {
    const toml::node* node = find(key);
    if (!node) return require(key, fallback);
    if (!node->is_integer()) reject(*node, key, fmt::format("must be an integer >= {}", min));
    int64_t value = node->as_integer()->get();
    if (value < min || value > (int64_t{1} << 30)) reject(*node, key, fmt::format("must be an integer >= {}", min));
    return value;
  }

  double number(std::string_view key, std::optional<double> fallback = std::nullopt, bool allowZero = false) const {
    const toml::node* node = find(key);
    if (!node) return require(key, fallback);
    double value = 0;
    if (node->is_integer())
      value = static_cast<double>(node->as_integer()->get());
    else if (node->is_floating_point())
      value = node->as_floating_point()->get();
    else
      reject(*node, key, allowZero ? "must be a number >= 0" : "must be a positive number");
    if (!(value > 0 || (allowZero && value == 0)) || value > 1e9)
      reject(*node, key, allowZero ? "must be a number >= 0" : "must be a positive number");
    return value;
  }

  bool boolean(std::string_view key) const {
    const toml::node* node = find(key);
    if (!node) fail(support::tomlLocation(file_, table_.source()), "missing key '{}' in {}", key, title_);
    if (!node->is_boolean()) reject(*node, key, "must be true or false");
    return node->as_boolean()->get();
  }

  std::vector<std::string> strings(std::string_view key) const {
    const toml::node* node = find(key);
    std::vector<std::string> values;
    if (!node) return values;
    if (!node->is_array()) reject(*node, key, "must be an array of strings");
    for (const toml::node& item : *node->as_array()) {
      if (!item.is_string()) reject(item, key, "must be an array of strings");
      values.push_back(item.as_string()->get());
    }
    return values;
  }

  /// An array of `min`..`max` positive numbers.
  std::vector<double> numbers(std::string_view key, size_t min, size_t max) const {
    const toml::node* node = find(key);
    if (!node) fail(support::tomlLocation(file_, table_.source()), "missing key '{}' in {}", key, title_);
    const std::string complaint = fmt::format("must be an array of {} to {} positive numbers", min, max);
    if (!node->is_array() || node->as_array()->size() < min || node->as_array()->size() > max)
      reject(*node, key, complaint);
    std::vector<double> values;
    for (const toml::node& item : *node->as_array()) {
      std::optional<double> value = item.value<double>();
      if (!value || !(*value > 0) || *value > 1e9) reject(item, key, complaint);
      values.push_back(*value);
    }
    return values;
  }

  [[nodiscard]] const toml::table& table() const { return table_; }
  [[nodiscard]] const std::string& file() const { return file_; }

  [[noreturn]] void reject(const toml::node& node, std::string_view key, std::string_view complaint) const {
    fail(support::tomlLocation(file_, node.source()), "'{}' in {} {}, got {}", key, title_, complaint,
         describeValue(node));
  }

 private:
  template <typename T>
  T require(std::string_view key, std::optional<T> fallback) const {
    if (!fallback) fail(support::tomlLocation(file_, table_.source()), "missing key '{}' in {}", key, title_);
    return *fallback;
  }

  const toml::table& table_;
  std::string title_;
  const std::string& file_;
};

const toml::table& requireTable(const toml::table& root, std::string_view name, const std::string& file) {
  const toml::node* node = root.get(name);
  if (!node) fail(SourceLoc{file, 1, 1}, "missing table [{}]", name);
  if (!node->is_table())
    fail(support::tomlLocation(file, node->source()), "'{}' must be a table, got {}", name, describeValue(*node));
  return *node->as_table();
}

void readGpuTable(const TableReader& gpu, GpuProfile& profile) {
  gpu.rejectUnknownKeys({"name", "description", "device_names", "compute_capability", "sm_count",
                         "memory_bandwidth_gbs", "l2_cache_mb", "memory_gb", "fp16_tflops", "fp8_tflops", "int8_tops",
                         "launch_cost_us", "max_threads_per_sm"});
  profile.name = gpu.string("name");
  profile.description = gpu.string("description", "");
  profile.deviceNames = gpu.strings("device_names");
  profile.computeCapability = static_cast<int>(gpu.integer("compute_capability"));
  profile.smCount = static_cast<int>(gpu.integer("sm_count"));
  profile.memoryBandwidthGBs = gpu.number("memory_bandwidth_gbs");
  profile.l2CacheMB = gpu.number("l2_cache_mb", std::nullopt, true);
  profile.memoryGB = gpu.number("memory_gb");
  profile.fp16Tflops = gpu.number("fp16_tflops");
  profile.fp8Tflops = gpu.number("fp8_tflops", 0.0, true);
  profile.int8Tops = gpu.number("int8_tops");
  profile.launchCostUs = gpu.number("launch_cost_us", std::nullopt, true);
  profile.maxThreadsPerSm = static_cast<int>(gpu.integer("max_threads_per_sm", 2048));
}

void readFeatures(const TableReader& features, GpuProfile& profile) {
  features.rejectUnknownKeys({"dp4a", "fp8", "wgmma", "mma"});
  profile.dp4a = features.boolean("dp4a");
  profile.fp8 = features.boolean("fp8");
  profile.wgmma = features.boolean("wgmma");
  profile.mma = features.boolean("mma");
  if (profile.fp8 && profile.fp8Tflops <= 0)
    features.reject(*features.find("fp8"), "fp8", "needs fp8_tflops > 0 in [gpu]");
}

void readThresholds(const TableReader& thresholds, GpuProfile& profile) {
  thresholds.rejectUnknownKeys(
      {"fp8_min_m", "hgemm_min_m", "flash_decoding_min_context", "gate_up_fuse_min_m", "gate_up_fuse_max_m"});
  profile.fp8MinM = static_cast<int>(thresholds.integer("fp8_min_m", profile.fp8MinM));
  profile.hgemmMinM = static_cast<int>(thresholds.integer("hgemm_min_m", profile.hgemmMinM));
  profile.flashDecodingMinContext =
      static_cast<int>(thresholds.integer("flash_decoding_min_context", profile.flashDecodingMinContext));
  profile.gateUpFuseMinM = static_cast<int>(thresholds.integer("gate_up_fuse_min_m", profile.gateUpFuseMinM));
  profile.gateUpFuseMaxM = static_cast<int>(thresholds.integer("gate_up_fuse_max_m", profile.gateUpFuseMaxM));
}

/// The array of tables `key` of [measured] (empty when absent), each read by `read`.
template <typename Read>
void readMeasuredList(const TableReader& measured, std::string_view key, Read read) {
  const toml::node* node = measured.find(key);
  if (!node) return;
  const toml::array* list = node->as_array();
  if (!list || !list->is_array_of_tables())
    measured.reject(*node, key, fmt::format("must be an array of tables ([[measured.{}]])", key));
  int index = 0;
  for (const toml::node& item : *list)
    read(TableReader(*item.as_table(), fmt::format("[[measured.{}]] #{}", key, ++index), measured.file()));
}

/// The keys of the [[measured.matmul]] records read so far (a set: a file of many stays fast).
using MatmulKeys = std::set<std::tuple<int, int, int64_t, int64_t, int64_t>>;

/// One [[measured.matmul]] record: a kernel family, a weight type and a shape; each once.
MatmulMeasurement readMatmulRecord(const TableReader& matmul, MatmulKeys& seen) {
  matmul.rejectUnknownKeys({"family", "qtype", "n", "k", "m", "us"});
  MatmulMeasurement record;
  const std::string family = matmul.string("family");
  const std::optional<ir::MatmulKernel> kernel = ir::parseMatmulKernel(family);
  if (!kernel)
    matmul.reject(*matmul.find("family"), "family", "must be dp4a, mma, fp8, hgemm, dequant-hgemm or mma-f16");
  record.key.family = *kernel;
  const std::optional<ir::ElemType> qtype = ir::parseElemType(matmul.string("qtype"));
  if (!qtype || *qtype == ir::ElemType::I32)
    matmul.reject(*matmul.find("qtype"), "qtype", "must be a weight type (q4_k, q6_k, q8_0, f16, ...)");
  record.key.qtype = *qtype;
  record.key.n = matmul.integer("n");
  record.key.k = matmul.integer("k");
  record.key.m = matmul.integer("m");
  record.us = matmul.number("us");
  const MatmulKey& key = record.key;
  if (!seen.emplace(static_cast<int>(key.family), static_cast<int>(key.qtype), key.n, key.k, key.m).second)
    matmul.reject(*matmul.find("m"), "m", "repeats an earlier record's family, qtype, n, k and m");
  return record;
}

void readMeasured(const TableReader& measured, Measurements& out) {
  measured.rejectUnknownKeys({"gpu", "read_bandwidth_gbs", "prefill_tokens", "gemv", "attention", "matmul"});
  out.gpu = measured.string("gpu");
  out.readBandwidthGBs = measured.number("read_bandwidth_gbs", 0.0, true);
  out.prefillTokens = measured.integer("prefill_tokens", 0);
  if (out.prefillTokens > kMaxPrefillTokens)
    measured.reject(*measured.find("prefill_tokens"), "prefill_tokens",
                    fmt::format("must be an integer from 1 to {}", kMaxPrefillTokens));
  readMeasuredList(measured, "gemv", [&](const TableReader& gemv) {
    gemv.rejectUnknownKeys({"kernel", "n", "k", "m", "us"});
    GemvMeasurement g;
    g.key.kernel = gemv.string("kernel");
    const kernels::KernelInfo* info = kernels::findKernel(g.key.kernel);
    if (!info || info->family != "gemv")
      gemv.reject(*gemv.find("kernel"), "kernel", "must be a GEMV kernel id of the kernel table (gemv_dp4a_...)");
    g.key.n = gemv.integer("n");
    g.key.k = gemv.integer("k");
    g.key.m = gemv.integer("m");
    g.usByRowSets = gemv.numbers("us", 1, 2);
    out.gemv.push_back(std::move(g));
  });
  readMeasuredList(measured, "attention", [&](const TableReader& attention) {
    attention.rejectUnknownKeys({"rows", "heads", "kv_heads", "head_dim", "context", "us"});
    AttentionMeasurement a;
    a.key.rows = attention.integer("rows");
    a.key.heads = attention.integer("heads");
    a.key.kvHeads = attention.integer("kv_heads");
    a.key.headDim = attention.integer("head_dim");
    a.key.context = attention.integer("context");
    a.usBySplits = attention.numbers("us", 1, 8);
    out.attention.push_back(std::move(a));
  });
  MatmulKeys seen;
  readMeasuredList(measured, "matmul",
                   [&](const TableReader& matmul) { out.matmul.push_back(readMatmulRecord(matmul, seen)); });
}

std::string lowerCase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

std::string bundledSource(std::string_view stem) {
  return fmt::format("<bundled>/{}.toml", stem);
}

}  // namespace

GpuProfile parseGpuProfile(const std::string& text, const std::string& fileName) {
  toml::table root = support::parseTomlText(text, fileName);
  for (const auto& [key, node] : root)
    if (key.str() != "gpu" && key.str() != "features" && key.str() != "thresholds" && key.str() != "measured")
      fail(support::tomlLocation(fileName, key.source()),
           "unknown table '{}' (a profile has [gpu], [features], [thresholds], [measured])", key.str());
  GpuProfile profile;
  profile.source = fileName;
  readGpuTable(TableReader(requireTable(root, "gpu", fileName), "[gpu]", fileName), profile);
  readFeatures(TableReader(requireTable(root, "features", fileName), "[features]", fileName), profile);
  if (const toml::node* thresholds = root.get("thresholds")) {
    if (!thresholds->is_table())
      fail(support::tomlLocation(fileName, thresholds->source()), "'thresholds' must be a table");
    readThresholds(TableReader(*thresholds->as_table(), "[thresholds]", fileName), profile);
  }
  if (const toml::node* measured = root.get("measured")) {
    if (!measured->is_table()) fail(support::tomlLocation(fileName, measured->source()), "'measured' must be a table");
    readMeasured(TableReader(*measured->as_table(), "[measured]", fileName), profile.measured);
  }
  return profile;
}

std::string formatGpuProfile(const GpuProfile& p) {
  std::string names;
  for (const std::string& name : p.deviceNames) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", name);
  std::string text = fmt::format(
      "[gpu]\nname = \"{}\"\ndescription = \"{}\"\ndevice_names = [{}]\ncompute_capability = {}\nsm_count = {}\n"
      "memory_bandwidth_gbs = {}\nl2_cache_mb = {}\nmemory_gb = {}\nfp16_tflops = {}\nfp8_tflops = {}\n"
      "int8_tops = {}\nlaunch_cost_us = {}\nmax_threads_per_sm = {}\n",
      p.name, p.description, names, p.computeCapability, p.smCount, p.memoryBandwidthGBs, p.l2CacheMB, p.memoryGB,
      p.fp16Tflops, p.fp8Tflops, p.int8Tops, p.launchCostUs, p.maxThreadsPerSm);
  text += fmt::format("\n[features]\ndp4a = {}\nfp8 = {}\nwgmma = {}\nmma = {}\n", p.dp4a, p.fp8, p.wgmma, p.mma);
  text += fmt::format(
      "\n[thresholds]\nfp8_min_m = {}\nhgemm_min_m = {}\nflash_decoding_min_context = {}\ngate_up_fuse_min_m = {}\n"
      "gate_up_fuse_max_m = {}\n",
      p.fp8MinM, p.hgemmMinM, p.flashDecodingMinContext, p.gateUpFuseMinM, p.gateUpFuseMaxM);
  if (!p.measured.empty()) text += "\n" + formatMeasurements(p.measured);
  return text;
}

GpuProfile readGpuProfile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) failPlain("{}: cannot open GPU profile", path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return parseGpuProfile(buffer.str(), path);
}

std::vector<std::string> bundledGpuProfileNames() {
  std::vector<std::string> names;
  for (const auto& [stem, text] : detail::bundledGpuProfileTexts()) names.emplace_back(stem);
  return names;
}

GpuProfile bundledGpuProfile(const std::string& name) {
  std::string wanted = lowerCase(name);
  for (const auto& [stem, text] : detail::bundledGpuProfileTexts())
    if (stem == wanted) return parseGpuProfile(std::string(text), bundledSource(stem));
  failPlain("unknown GPU '{}' (bundled profiles: {}; or give a file with --gpu-profile)", name,
            fmt::join(bundledGpuProfileNames(), ", "));
}

void setGpuDetector(GpuDetector detector) {
  gDetector = detector;
}

GpuProfile matchGpuProfile(const DetectedGpu& gpu, std::string* note) {
  std::string deviceName = lowerCase(gpu.name);
  std::optional<GpuProfile> best;
  for (const std::string& name : bundledGpuProfileNames()) {
    GpuProfile profile = bundledGpuProfile(name);
    bool matches = std::any_of(profile.deviceNames.begin(), profile.deviceNames.end(), [&](const std::string& part) {
      return deviceName.find(lowerCase(part)) != std::string::npos;
    });
    if (matches && (!best || profile.smCount == gpu.smCount)) best = std::move(profile);
  }
  if (!best) {
    if (note)
      *note = fmt::format("no bundled GPU profile matches '{}' ({} SMs); using the {} profile", gpu.name, gpu.smCount,
                          kFallbackProfile);
    return bundledGpuProfile(kFallbackProfile);
  }
  if (gpu.smCount > 0 && best->smCount != gpu.smCount) {
    if (note)
      *note =
          fmt::format("'{}' has {} SMs; using the {} profile with that SM count", gpu.name, gpu.smCount, best->name);
    best->smCount = gpu.smCount;
  }
  return *best;
}

GpuProfile resolveGpuProfile(const std::string& gpuArg, std::string* autoNote) {
  if (gpuArg != "auto") return bundledGpuProfile(gpuArg);
  if (!gDetector) {
    if (autoNote)
      *autoNote = fmt::format("--gpu auto: reel was built without CUDA; using the {} profile", kFallbackProfile);
    return bundledGpuProfile(kFallbackProfile);
  }
  std::optional<DetectedGpu> gpu = gDetector();
  if (!gpu) {
    if (autoNote)
      *autoNote = fmt::format("--gpu auto: no CUDA device is visible; using the {} profile", kFallbackProfile);
    return bundledGpuProfile(kFallbackProfile);
  }
  std::string note;
  GpuProfile profile = matchGpuProfile(*gpu, &note);
  if (autoNote)
    *autoNote =
        note.empty() ? fmt::format("--gpu auto: {} -> the {} profile", gpu->name, profile.name) : "--gpu auto: " + note;
  return profile;
}

}  // namespace reel::passes

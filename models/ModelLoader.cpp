#include "models/ModelLoader.h"

#include "models/GgufConfig.h"

#include "models/HfConfig.h"
#include "models/TomlConfig.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace reel::models {
namespace {

namespace fs = std::filesystem;

/// Config files are small; anything bigger is not one (and is not read into memory).
constexpr std::uintmax_t kMaxConfigBytes = 16u << 20;

std::string toLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

bool hasExtension(const std::string& path, std::string_view extension) {
  return toLower(fs::path(path).extension().string()) == extension;
}

/// The whole of `path`; a missing, unreadable or oversized file is a one-line Error.
std::string readConfigFile(const std::string& path) {
  std::error_code error;
  if (fs::is_directory(path, error)) fail(SourceLoc{path}, "is a directory, not a config file");
  std::uintmax_t size = fs::file_size(path, error);
  if (!error && size > kMaxConfigBytes)
    fail(SourceLoc{path}, "is {} bytes, too large for a model config (at most {})", size, kMaxConfigBytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(SourceLoc{path}, "cannot open: {}", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(SourceLoc{path}, "cannot read: {}", std::strerror(errno));
  return text.str();
}

const BundledConfig* findBundled(const std::string& name) {
  std::string wanted = toLower(name);
  for (const BundledConfig& config : bundledConfigs())
    if (toLower(config.name) == wanted) return &config;
  return nullptr;
}

ModelConfig loadBundled(const BundledConfig& bundled) {
  return readTomlConfig(bundled.toml, fmt::format("<bundled:{}>", bundled.name));
}

std::string joinedBundledNames() {
  std::string joined;
  for (const std::string& name : bundledModelNames()) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

/// Reads the config `modelArg` names; the caller finalizes it.
ModelConfig readNamedConfig(const std::string& modelArg) {
  if (hasExtension(modelArg, ".toml")) return readTomlConfig(readConfigFile(modelArg), modelArg);
  if (hasExtension(modelArg, ".json")) return readHfConfig(readConfigFile(modelArg), modelArg);
  if (hasExtension(modelArg, ".gguf")) return readGgufConfig(modelArg);

  std::error_code error;
  bool isDirectory = fs::is_directory(modelArg, error);
  std::string hfConfig = (fs::path(modelArg) / "config.json").string();
  if (isDirectory && fs::is_regular_file(hfConfig, error)) return readHfConfig(readConfigFile(hfConfig), hfConfig);
  if (const BundledConfig* bundled = findBundled(modelArg)) return loadBundled(*bundled);
  if (isDirectory) fail(SourceLoc{modelArg}, "directory has no config.json");
  if (fs::exists(modelArg, error))
    fail(SourceLoc{modelArg},
         "not a model config: expected a .toml, .json or .gguf file, or a directory with "
         "config.json");
  failPlain("unknown model '{}': no such file, and no bundled config of that name (bundled: {})", modelArg,
            joinedBundledNames());
}

}  // namespace

std::vector<std::string> bundledModelNames() {
  std::vector<std::string> names;
  for (const BundledConfig& config : bundledConfigs()) names.emplace_back(config.name);
  std::sort(names.begin(), names.end());
  return names;
}

ModelConfig loadModelConfig(const std::string& modelArg) {
  ModelConfig config = readNamedConfig(modelArg);
  config.finalize();
  return config;
}

}  // namespace reel::models

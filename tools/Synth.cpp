// reel synth MODEL -o model.gguf: a GGUF file of random weights for a model config.
#include "models/ModelLoader.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/synth/ModelSynth.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/PassFlags.h"

#include <fmt/format.h>

#include <charconv>

namespace reel::tools {

namespace {

uint64_t parseSeed(const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    failPlain("reel synth: --seed {}: expected a non-negative integer", text);
  return value;
}

}  // namespace

int runSynth(int argc, char** argv) {
  Args args("reel synth",
            "Write a GGUF file of random weights for a model: llama.cpp's tensor names and metadata, the qtypes\n"
            "of --quant (q4_k_m keeps output.weight and some attn_v/ffn_down at Q6_K, as llama.cpp does), and\n"
            "magnitudes that keep activations finite over many layers. llama.cpp can load the file too\n"
            "(tokenizer.ggml.model = \"no_vocab\", or --tokenizer's).");
  args.positional("MODEL", "a model .toml, a Hugging Face config.json, a .gguf file, or a bundled name (reel models)");
  args.option("--output", "FILE", "the GGUF file to write", "-o");
  args.option("--quant", "SCHEME", "weight quantization: q4_k_m (default), q4_k, q8_0, f16, bf16, q4_0, q5_k_m");
  args.option("--seed", "N", "random seed (default 0): the same seed gives the same file");
  args.option("--tokenizer", "FILE",
              "a GGUF file whose tokenizer (tokenizer.* metadata) the file carries instead of none; its vocabulary "
              "must be the model's size");
  if (!args.parse(argc, argv, 2)) return 0;

  std::optional<std::string> output = args.get("--output");
  if (!output) failPlain("reel synth: missing --output FILE (-o)");
  const models::QuantScheme scheme = quantSchemeFlag(args);

  models::ModelConfig config = models::loadModelConfig(*args.get("MODEL"));
  synth::SynthOptions options{scheme, parseSeed(args.getOr("--seed", "0")), 2};
  std::optional<GgufFile> tokenizer;
  if (std::optional<std::string> file = args.get("--tokenizer")) {
    tokenizer.emplace(GgufFile::open(*file));
    options.tokenizer = &tokenizer->metadata();
  }
  SynthReport report = synth::writeSyntheticModel(config, options, *output);
  const auto parameters = static_cast<double>(config.parameterCount());
  const std::string size =
      parameters >= 1e9 ? fmt::format("{:.2f}B", parameters / 1e9) : fmt::format("{:.1f}M", parameters / 1e6);
  writeOutput("", fmt::format("wrote {}: {} ({} layers, {} parameters), {} weights, seed {}: {:.1f} MB in {:.1f} s\n",
                              *output, config.name, config.numLayers, size, models::quantSchemeName(scheme),
                              options.seed, static_cast<double>(report.fileBytes) / 1e6, report.seconds));
  return 0;
}

}  // namespace reel::tools

// reel: the command-line driver. Each subcommand lives in its own file; this table is
// the one list of them and drives dispatch and `reel --help`.
#include "passes/PassTable.h"
#include "support/Diagnostics.h"
#include "tools/Commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>

namespace reel::tools {
namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

constexpr Subcommand kSubcommands[] = {
    {"compile", "compile a model to optimized IR or a plan", runCompile},
    {"opt", "parse, verify and print an IR file", runOpt},
    {"models", "list the bundled model configs", runModels},
    {"passes", "list the passes and their options, the default pipeline, docs/passes.md", runPasses},
    {"synth", "write a GGUF file of random weights for a model", runSynth},
    {"run", "generate tokens greedily (GPU runtime, or the CPU reference executor); -p: text in, text out", runRun},
    {"chat", "an interactive conversation with a chat model, answers streamed", runChat},
    {"bench", "decode tok/s per bucket on the GPU: CUDA graphs vs eager, % of bandwidth", runBench},
    {"lower", "lower an optimized IR file to a plan (codegen alone)", runLower},
    {"inspect", "print what a plan does per bucket", runInspect},
    {"tokenize", "print the token ids and pieces of a text with a GGUF file's tokenizer", runTokenize},
    {"serve", "an OpenAI-compatible HTTP server with continuous batching (docs/serving.md)", runServe},
    {"loadgen", "load an OpenAI-compatible server with streamed completions: TTFT, ITL, tok/s", runLoadgen},
    {"tune", "measure the kernel times the decision passes decide by on the GPU, into a GPU profile", runTune},
};

void printUsage() {
  std::printf("reel: a dataflow-graph compiler with a CUDA-graph runtime for LLM decode\n\n");
  std::printf("usage: reel <command> [options]   (reel <command> --help for details)\n\ncommands:\n");
  for (const Subcommand& sub : kSubcommands) std::printf("  %-10s %s\n", sub.name, sub.summary);
}

}  // namespace

std::string readInput(const std::string& path) {
  std::stringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) failPlain("{}: cannot open file", path);
  buffer << file.rdbuf();
  return buffer.str();
}

void writeOutput(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::ofstream file(path, std::ios::binary);
  if (!file) failPlain("{}: cannot open for writing", path);
  file << text;
  if (!file) failPlain("{}: write failed", path);
}

}  // namespace reel::tools

int main(int argc, char** argv) {
  using namespace reel::tools;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    printUsage();
    return argc < 2 ? 1 : 0;
  }
  for (const Subcommand& sub : kSubcommands) {
    if (std::strcmp(argv[1], sub.name) != 0) continue;
    try {
      reel::passes::registerBuiltinPasses();  // the fused ops parse from here on
      return sub.run(argc, argv);
    } catch (const reel::Error& error) {
      std::fprintf(stderr, "reel: error: %s\n", error.what());
    } catch (const std::exception& error) {
      std::fprintf(stderr, "reel: internal error: %s\n", error.what());
    }
    return 1;
  }
  std::fprintf(stderr, "reel: error: unknown command '%s' (see reel --help)\n", argv[1]);
  return 1;
}

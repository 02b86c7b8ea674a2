// reel opt FILE.ir: parse, verify, run a pass pipeline (none by default), print.
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "passes/Instrumentation.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/PassFlags.h"

#include <cstdio>
#include <string>
#include <string_view>

namespace reel::tools {
namespace {

/// The separator of --split-input-file, on a line of its own.
constexpr std::string_view kSplitMarker = "// -----";

/// One piece of the input: its text and the line it starts on (1-based).
struct Chunk {
  std::string text;
  unsigned firstLine = 1;
};

bool isSplitMarker(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
  return line == kSplitMarker;
}

/// The pieces between `// -----` lines (the whole text when `split` is false).
std::vector<Chunk> splitInput(const std::string& text, bool split) {
  if (!split) return {Chunk{text, 1}};
  std::vector<Chunk> chunks(1);
  unsigned line = 1;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    size_t next = end == std::string::npos ? text.size() : end + 1;
    std::string_view current(text.data() + start, next - start);
    if (isSplitMarker(current.substr(0, current.find('\n')))) {
      chunks.push_back(Chunk{"", line + 1});
    } else {
      chunks.back().text.append(current);
    }
    ++line;
    start = next;
  }
  return chunks;
}

/// Parses, runs the pipeline on and prints one chunk. Returns false if a pass failed.
bool processChunk(const Chunk& chunk, const std::string& fileName, const PassSetup& setup, const Args& args,
                  std::string& out) {
  // Blank lines in front keep the parser's line numbers those of the whole file.
  std::string padded(chunk.firstLine - 1, '\n');
  padded += chunk.text;
  std::unique_ptr<ir::Module> module = ir::parseModule(padded, fileName);
  PassSetup run = setup;  // each chunk starts from the same context
  if (!runPasses(*module, run, args)) return false;
  out = ir::printModule(*module);
  if (args.has("--explain")) out += "\n" + explainDecisions(*module, run.context);
  printReport(run.context);
  return true;
}

}  // namespace

int runOpt(int argc, char** argv) {
  Args args("reel opt",
            "Parse an IR file, verify it, run a pass pipeline on it (--passes; none by default) and print it.\n"
            "--split-input-file treats each piece between '// -----' lines as its own module (output pieces are\n"
            "separated the same way); --run-reproducer reruns a reel-reproducer-<pass>.ir with its header's flags.");
  args.positional("FILE", "an IR file ('-' for standard input)");
  args.option("--output", "FILE", "write to FILE instead of stdout", "-o");
  args.flag("--no-verify", "run and print without the verifier");
  args.flag("--split-input-file", "process each '// -----'-separated piece of FILE on its own");
  args.flag("--run-reproducer", "take --passes and the context flags from FILE's '// reel-reproducer:' header");
  declarePassFlags(args);
  if (!args.parse(argc, argv, 2)) return 0;

  const std::string path = *args.get("FILE");
  const bool fromStdin = path == std::string_view("-");
  std::string fileName = fromStdin ? "<stdin>" : path;
  std::string text = readInput(path);
  ContextFlags flags = readContextFlags(args);
  if (args.has("--run-reproducer")) {
    std::string header = passes::reproducerFlags(text);
    if (header.empty())
      failPlain("{}: --run-reproducer: no '{}' header line", fileName, passes::ReproducerInstrumentation::kHeader);
    flags = flags.orElse(parseReproducerFlags(header));
  }
  PassSetup setup = resolvePassSetup(flags, PipelineDefault::Empty);

  bool split = args.has("--split-input-file");
  std::vector<std::string> outputs;
  bool ok = true;
  for (const Chunk& chunk : splitInput(text, split)) {
    std::string out;
    if (!split) {
      if (!processChunk(chunk, fileName, setup, args, out)) return 1;
    } else {
      try {
        if (!processChunk(chunk, fileName, setup, args, out)) ok = false;
      } catch (const Error& error) {
        std::fprintf(stderr, "reel: error: %s\n", error.what());
        ok = false;
      }
    }
    outputs.push_back(std::move(out));
  }
  std::string joined;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (i) joined += std::string(kSplitMarker) + "\n";
    joined += outputs[i];
  }
  writeOutput(args.getOr("--output", ""), joined);
  return ok ? 0 : 1;
}

}  // namespace reel::tools

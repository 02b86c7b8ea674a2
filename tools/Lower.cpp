// reel lower FILE.ir: codegen alone. The IR's decisions (kernels, strategies, splits,
// offsets, ...) are taken as they stand, so that a hand edit of one attribute shows in the
// plan it lowers to.
#include "codegen/Lower.h"
#include "codegen/Compiler.h"
#include "codegen/PlanFile.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "passes/Plugin.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/PassFlags.h"

#include <algorithm>

namespace reel::tools {

int runLower(int argc, char** argv) {
  Args args("reel lower",
            "Lower an optimized IR file (what `reel compile --emit=ir` writes: one graph per bucket after the pass\n"
            "pipeline) to a plan, running no pass: every decision recorded in the IR is carried out as it stands.\n"
            "The IR is verified first.");
  args.positional("FILE", "an IR file ('-' for standard input)");
  args.option("--output", "FILE", "write the plan to FILE (.plan) instead of stdout (JSON)", "-o");
  args.option("--gpu", "NAME", "the GPU profile the plan records: h100 (default), h200, a100, l40s, rtx4090, or auto");
  args.option("--gpu-profile", "FILE", "the GPU profile from a TOML file (see passes/profiles/)");
  args.option("--ctx", "N", "KV positions per sequence (default: min(model context, 4096))");
  args.option("--load-pass-plugin", "PATH", "load a plugin (.so) first, for the ops it adds and lowers; repeatable", "",
              true);
  if (!args.parse(argc, argv, 2)) return 0;

  const std::string path = args.getOr("FILE", "-");
  const std::string name = path == "-" ? "<stdin>" : path;
  for (const std::string& plugin : args.getAll("--load-pass-plugin")) passes::loadPassPlugin(plugin);
  const std::unique_ptr<ir::Module> module = ir::parseModule(readInput(path), name);
  ir::verifyModule(*module);

  ContextFlags target;
  target.gpu = args.get("--gpu");
  target.gpuProfile = args.get("--gpu-profile");
  codegen::LowerOptions options;
  options.profile = resolvePassSetup(target, PipelineDefault::Empty).context.profile;
  options.pipeline = "(lowered from " + name + ")";
  const int64_t context = codegen::moduleContext(*module);
  options.maxContext = args.getInt("--ctx", std::min(context, codegen::kDefaultMaxContext), {1, context});
  const codegen::Plan plan = codegen::lowerModule(*module, options);

  const std::string output = args.getOr("--output", "");
  if (output.empty() || output == "-")
    writeOutput("", codegen::planToJson(plan));
  else
    codegen::writePlanFile(plan, output);
  return 0;
}

}  // namespace reel::tools

// reel compile MODEL: model config -> IR -> the pass pipeline -> optimized IR per bucket.
#include "codegen/Lower.h"
#include "codegen/PlanFile.h"
#include "ir/Printer.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "passes/PassTable.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/PassFlags.h"

namespace reel::tools {

int runCompile(int argc, char** argv) {
  Args args("reel compile",
            "Compile a model (a .toml, a config.json or a bundled name) to optimized IR: the builder's generic step,\n"
            "then the pass pipeline (default: reel passes --default), which specialises it into one graph per\n"
            "bucket (@decode.m1, ...) plus @prefill and makes the per-bucket decisions. The report (e.g. weight\n"
            "bytes on the GPU) goes to stderr at the end; --explain prints the decisions after the IR.");
  args.positional("MODEL", "a model .toml, a Hugging Face config.json, or a bundled name (reel models)");
  args.option("--emit", "KIND",
              "what to write: ir (default; plan when -o ends in .plan), plan (the lowered schedules), or none");
  args.option("--ctx", "N", "KV positions per sequence the plan is lowered for (default: min(model context, 4096))");
  args.option("--quant", "SCHEME", "weight quantization: q4_k_m (default), q4_k, q8_0, f16");
  args.option("--output", "FILE", "write to FILE instead of stdout", "-o");
  declarePassFlags(args);
  if (!args.parse(argc, argv, 2)) return 0;

  std::string output = args.getOr("--output", "");
  bool planFile = output.size() > 5 && output.compare(output.size() - 5, 5, ".plan") == 0;
  std::string emit = args.getOr("--emit", planFile ? "plan" : "ir");
  if (emit != "ir" && emit != "plan" && emit != "none")
    failPlain("reel compile: --emit={} is not supported (expected ir, plan or none)", emit);
  std::string quant = args.getOr("--quant", "q4_k_m");
  std::optional<models::QuantScheme> scheme = models::parseQuantScheme(quant);
  if (!scheme) failPlain("reel compile: unknown --quant '{}' (expected q4_k_m, q4_k, q8_0 or f16)", quant);

  PassSetup setup = resolvePassSetup(readContextFlags(args), passes::kDefaultPipeline);
  models::ModelConfig config = models::loadModelConfig(*args.get("MODEL"));
  std::unique_ptr<ir::Module> module = models::buildModule(config, {*scheme});
  if (!runPasses(*module, setup, args)) return 1;

  if (emit == "plan") {
    codegen::LowerOptions lower;
    lower.profile = setup.context.profile;
    lower.pipeline = setup.pipeline.str();
    lower.maxContext = std::min<int64_t>(config.maxContext, 4096);
    if (std::optional<std::string> ctx = args.get("--ctx")) {
      lower.maxContext = std::atoll(ctx->c_str());
      if (lower.maxContext <= 0 || lower.maxContext > config.maxContext)
        failPlain("reel compile: --ctx={} must be between 1 and the model's context ({})", *ctx, config.maxContext);
    }
    codegen::Plan plan = codegen::lowerModule(*module, lower);
    std::string json = codegen::planToJson(plan);
    if (output.empty() || output == "-")
      writeOutput("", json);
    else
      codegen::writePlanFile(plan, output);
    printReport(setup.context);
    return 0;
  }
  std::string out = emit == "ir" ? ir::printModule(*module) : std::string();
  if (args.has("--explain")) out += (out.empty() ? "" : "\n") + explainDecisions(*module, setup.context);
  if (!out.empty()) writeOutput(output, out);
  printReport(setup.context);
  return 0;
}

}  // namespace reel::tools

// reel compile MODEL: model config -> IR -> the pass pipeline -> optimized IR per bucket.
#include "codegen/PlanFile.h"
#include "ir/Printer.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
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
  args.option("--quant", "SCHEME", "weight quantization: q4_k_m (default), q4_k, q8_0, f16, bf16, q4_0, q5_k_m");
  args.option("--output", "FILE", "write to FILE instead of stdout", "-o");
  declarePassFlags(args);
  if (!args.parse(argc, argv, 2)) return 0;

  std::string output = args.getOr("--output", "");
  bool planFile = output.size() > 5 && output.compare(output.size() - 5, 5, ".plan") == 0;
  std::string emit = args.getOr("--emit", planFile ? "plan" : "ir");
  if (emit != "ir" && emit != "plan" && emit != "none")
    failPlain("reel compile: --emit={} is not supported (expected ir, plan or none)", emit);
  const models::QuantScheme scheme = quantSchemeFlag(args);

  models::ModelConfig config = models::loadModelConfig(*args.get("MODEL"));
  CompileDefaults defaults;
  defaults.lower = emit == "plan";
  std::optional<codegen::CompileResult> compiled =
      compileWithFlags(args, models::buildModule(config, {scheme}), defaults);
  if (!compiled) return 1;

  if (emit == "plan") {
    if (output.empty() || output == "-")
      writeOutput("", codegen::planToJson(compiled->plan));
    else
      codegen::writePlanFile(compiled->plan, output);
    printReport(compiled->context);
    return 0;
  }
  std::string out = emit == "ir" ? ir::printModule(*compiled->module) : std::string();
  if (args.has("--explain")) out += (out.empty() ? "" : "\n") + explainDecisions(*compiled->module, compiled->context);
  if (!out.empty()) writeOutput(output, out);
  printReport(compiled->context);
  return 0;
}

}  // namespace reel::tools

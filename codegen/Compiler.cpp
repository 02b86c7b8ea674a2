#include "codegen/Compiler.h"

#include "codegen/Lower.h"
#include "models/Builder.h"
#include "passes/PassManager.h"
#include "passes/PassTable.h"

namespace reel::codegen {

int64_t moduleContext(const ir::Module& module) {
  return module.attrs.getInt("context").value_or(kDefaultMaxContext);
}

CompileResult compileModule(std::unique_ptr<ir::Module> module, const CompileRequest& request) {
  CompileResult result;
  result.context.profile = request.profile;
  result.context.buckets = request.buckets;
  result.context.prefillTokens = request.prefillTokens;
  result.context.prefillBuckets = request.prefillBuckets;
  result.context.memoryBudget = request.memoryBudget;
  const std::string pipelineText = request.pipeline.value_or(passes::PassRegistry::global().defaultPipeline());
  passes::PassManagerOptions managerOptions;
  managerOptions.verifyInput = managerOptions.verifyEach = request.verify;
  passes::PassManager manager(passes::Pipeline::parse(pipelineText), managerOptions);
  if (request.instrument) request.instrument(manager);
  manager.run(*module, result.context);
  if (!request.lower) {
    result.module = std::move(module);
    return result;
  }

  LowerOptions lower;
  lower.profile = request.profile;
  lower.pipeline = manager.pipeline().str();
  lower.maxContext = request.maxContext > 0 ? request.maxContext : std::min(moduleContext(*module), kDefaultMaxContext);
  result.plan = lowerModule(*module, lower);
  result.module = std::move(module);
  return result;
}

CompileResult compileModel(const CompileRequest& request) {
  return compileModule(models::buildModule(request.config, {request.scheme, request.sampling}), request);
}

}  // namespace reel::codegen

#include "codegen/Compiler.h"

#include "codegen/Lower.h"
#include "models/Builder.h"
#include "passes/PassManager.h"
#include "passes/PassTable.h"

namespace reel::codegen {

CompileResult compileModule(std::unique_ptr<ir::Module> module, const CompileRequest& request) {
  CompileResult result;
  result.context.profile = request.profile;
  result.context.buckets = request.buckets;
  result.context.prefillTokens = request.prefillTokens;
  result.context.memoryBudget = request.memoryBudget;
  std::string pipelineText = request.pipeline.empty() ? passes::kDefaultPipeline : request.pipeline;
  passes::PassManager manager(passes::Pipeline::parse(pipelineText));
  manager.run(*module, result.context);

  LowerOptions lower;
  lower.profile = request.profile;
  lower.pipeline = manager.pipeline().str();
  int64_t context = module->attrs.getInt("context").value_or(4096);
  lower.maxContext = request.maxContext > 0 ? request.maxContext : std::min<int64_t>(context, 4096);
  result.plan = lowerModule(*module, lower);
  result.module = std::move(module);
  return result;
}

CompileResult compileModel(const CompileRequest& request) {
  return compileModule(models::buildModule(request.config, {request.scheme}), request);
}

}  // namespace reel::codegen

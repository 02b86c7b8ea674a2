/// Compile-time benchmark: builds a model's IR and runs the default pipeline on it (7
/// decode buckets plus prefill, H100 profile) a number of times, then prints the median
/// and minimum wall time of the IR build, of each pass, of the verifier and of the whole.
///
///   compile_time_bench [MODEL] [RUNS]      (defaults: llama-3-8b, 20)
///
/// docs/performance-log.md records its figures; `ninja bench-compile-time` runs it.

#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "passes/GpuProfile.h"
#include "passes/PassManager.h"
#include "passes/PassTable.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

/// Times each pass of one pipeline run (the verifier separately).
class PassTimer : public reel::passes::PassInstrumentation {
 public:
  explicit PassTimer(std::vector<std::vector<double>>& samples, std::vector<double>& verifySamples)
      : samples_(samples), verifySamples_(verifySamples) {}
  void beforePipeline(const reel::passes::Pipeline& pipeline, const reel::ir::Module& /*module*/) override {
    samples_.resize(pipeline.size());
    verifyMs_ = 0;
  }
  void beforePass(const reel::passes::PassRun& /*run*/, const reel::ir::Module& /*module*/) override {
    start_ = Clock::now();
  }
  void afterPass(const reel::passes::PassRun& run, const reel::ir::Module& /*module*/, bool /*changed*/) override {
    samples_[run.index].push_back(millisecondsSince(start_));
  }
  void beforeVerify(const reel::passes::PassRun& /*run*/) override { start_ = Clock::now(); }
  void afterVerify(const reel::passes::PassRun& /*run*/) override { verifyMs_ += millisecondsSince(start_); }
  void afterPipeline(const reel::passes::Pipeline& /*pipeline*/, const reel::ir::Module& /*module*/) override {
    verifySamples_.push_back(verifyMs_);
  }

 private:
  std::vector<std::vector<double>>& samples_;
  std::vector<double>& verifySamples_;
  Clock::time_point start_;
  double verifyMs_ = 0;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

double minimum(const std::vector<double>& values) {
  return values.empty() ? 0.0 : *std::min_element(values.begin(), values.end());
}

void printRow(const std::string& what, const std::vector<double>& samples) {
  std::printf("%-28s %10.2f %10.2f\n", what.c_str(), median(samples), minimum(samples));
}

int run(const std::string& modelName, int runs) {
  reel::models::ModelConfig config = reel::models::loadModelConfig(modelName);
  reel::passes::Pipeline pipeline = reel::passes::Pipeline::parse(reel::passes::kDefaultPipeline);
  std::vector<double> buildMs;
  std::vector<double> totalMs;
  std::vector<double> verifyMs;
  std::vector<std::vector<double>> passMs;
  for (int i = 0; i < runs; ++i) {
    reel::passes::PassContext context;
    context.profile = reel::passes::bundledGpuProfile("h100");
    context.prefillTokens = 256;
    Clock::time_point start = Clock::now();
    std::unique_ptr<reel::ir::Module> module = reel::models::buildModule(config, {reel::models::QuantScheme::Q4_K_M});
    buildMs.push_back(millisecondsSince(start));
    reel::passes::PassManager manager(pipeline);
    manager.addInstrumentation(std::make_unique<PassTimer>(passMs, verifyMs));
    start = Clock::now();
    manager.run(*module, context);
    totalMs.push_back(millisecondsSince(start));
  }
  std::printf("%s, default pipeline, buckets 1,2,4,8,16,32,64 + prefill 256, h100 profile, %d runs\n",
              modelName.c_str(), runs);
  std::printf("%-28s %10s %10s\n", "", "median ms", "min ms");
  printRow("build IR (models::buildModule)", buildMs);
  for (size_t i = 0; i < pipeline.size(); ++i) printRow(pipeline.entries()[i].str(), passMs[i]);
  printRow("(verifier)", verifyMs);
  printRow("pipeline total", totalMs);
  std::vector<double> endToEnd(totalMs.size());
  for (size_t i = 0; i < totalMs.size(); ++i) endToEnd[i] = totalMs[i] + buildMs[i];
  printRow("build + pipeline", endToEnd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string model = argc > 1 ? argv[1] : "llama-3-8b";
    int runs = argc > 2 ? std::max(1, std::stoi(argv[2])) : 20;
    return run(model, runs);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "compile_time_bench: error: %s\n", error.what());
    return 1;
  }
}

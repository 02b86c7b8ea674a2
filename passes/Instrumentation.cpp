#include "passes/Instrumentation.h"

#include "ir/Printer.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>

namespace reel::passes {
namespace {

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  if (!file) failPlain("{}: cannot open for writing", path);
  file << text;
  if (!file) failPlain("{}: write failed", path);
}

std::string joinPath(const std::string& dir, const std::string& fileName) {
  return (std::filesystem::path(dir) / fileName).string();
}

double secondsBetween(std::chrono::steady_clock::time_point from, std::chrono::steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

// --- PrintIrInstrumentation -------------------------------------------------------------

void PrintIrInstrumentation::dump(const char* when, const PassRun& run, const ir::Module& module) {
  out_ << fmt::format("// ----- IR {} {} (pass {} of {}) -----\n", when, run.entry().str(), run.index + 1,
                      run.pipeline.size())
       << ir::printModule(module) << '\n';
  out_.flush();
}

void PrintIrInstrumentation::beforePass(const PassRun& run, const ir::Module& module) {
  if (options_.before.count(run.name())) dump("before", run, module);
}

void PrintIrInstrumentation::afterPass(const PassRun& run, const ir::Module& module, bool changed) {
  if (options_.afterAll || options_.after.count(run.name()) || (options_.afterChange && changed))
    dump("after", run, module);
}

// --- TimingInstrumentation --------------------------------------------------------------

void TimingInstrumentation::beforePipeline(const Pipeline& pipeline, const ir::Module& /*module*/) {
  passSeconds_.assign(pipeline.size(), 0.0);
  changed_.assign(pipeline.size(), false);
  verifySeconds_ = 0;
  pipelineStart_ = Clock::now();
}

void TimingInstrumentation::beforePass(const PassRun& /*run*/, const ir::Module& /*module*/) {
  start_ = Clock::now();
}

void TimingInstrumentation::afterPass(const PassRun& run, const ir::Module& /*module*/, bool changed) {
  passSeconds_[run.index] += secondsBetween(start_, Clock::now());
  changed_[run.index] = changed;
}

void TimingInstrumentation::beforeVerify(const PassRun& /*run*/) {
  start_ = Clock::now();
}

void TimingInstrumentation::afterVerify(const PassRun& /*run*/) {
  verifySeconds_ += secondsBetween(start_, Clock::now());
}

void TimingInstrumentation::afterPipeline(const Pipeline& pipeline, const ir::Module& /*module*/) {
  totalSeconds_ = secondsBetween(pipelineStart_, Clock::now());
  out_ << table(pipeline);
  out_.flush();
}

std::string TimingInstrumentation::table(const Pipeline& pipeline) const {
  double total = totalSeconds_ > 0 ? totalSeconds_ : 1e-12;
  auto row = [&](double seconds, const std::string& what) {
    return fmt::format("  {:>10.3f}  {:>6.1f}%  {}\n", seconds * 1e3, 100.0 * seconds / total, what);
  };
  std::string text = "===- pass timing (wall clock) -===\n";
  text += fmt::format("  {:>10}  {:>7}  {}\n", "time (ms)", "share", "pass");
  double accounted = verifySeconds_;
  for (size_t i = 0; i < passSeconds_.size() && i < pipeline.size(); ++i) {
    accounted += passSeconds_[i];
    text += row(passSeconds_[i], pipeline.entries()[i].str() + (changed_[i] ? "" : "  (no change)"));
  }
  text += row(verifySeconds_, "(verifier)");
  if (totalSeconds_ > accounted) text += row(totalSeconds_ - accounted, "(instrumentation and pass set-up)");
  text += row(totalSeconds_, "total");
  return text;
}

// --- DumpDirInstrumentation -------------------------------------------------------------

DumpDirInstrumentation::DumpDirInstrumentation(std::string dir) : dir_(std::move(dir)) {
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) failPlain("--dump-dir {}: cannot create the directory: {}", dir_, error.message());
}

void DumpDirInstrumentation::write(const std::string& fileName, const ir::Module& module) const {
  writeFile(joinPath(dir_, fileName), ir::printModule(module));
}

void DumpDirInstrumentation::beforePipeline(const Pipeline& /*pipeline*/, const ir::Module& module) {
  write("000-input.ir", module);
}

void DumpDirInstrumentation::afterPass(const PassRun& run, const ir::Module& module, bool /*changed*/) {
  write(fmt::format("{:03}-{}.ir", run.index + 1, run.name()), module);
}

// --- ReproducerInstrumentation ----------------------------------------------------------

void ReproducerInstrumentation::onPassFailure(const PassFailure& failure) {
  IrBeforeFailure before = failure.irBefore();
  std::string path = joinPath(options_.dir, "reel-reproducer-" + failure.run.name() + ".ir");
  std::string flags = fmt::format("--passes='{}'", failure.run.pipeline.strFrom(before.firstPassIndex));
  if (!options_.contextFlags.empty()) flags += " " + options_.contextFlags;
  std::string message = failure.message;
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::string header = fmt::format("{} {}\n// {}\n", kHeader, flags, message);
  try {
    writeFile(path, header + before.text);
  } catch (const Error& error) {
    if (failure.notes) failure.notes->push_back(fmt::format("could not write a reproducer: {}", error.what()));
    return;
  }
  if (failure.notes)
    failure.notes->push_back(fmt::format("reproducer written to {} (rerun: reel opt {} --run-reproducer)", path, path));
}

std::string reproducerFlags(std::string_view irText) {
  std::string_view keyword = ReproducerInstrumentation::kHeader;
  for (size_t start = 0; start < irText.size();) {
    size_t end = std::min(irText.find('\n', start), irText.size());
    std::string_view line = irText.substr(start, end - start);
    start = end + 1;
    if (line.substr(0, keyword.size()) != keyword) continue;
    line.remove_prefix(keyword.size());
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    return std::string(line);
  }
  return "";
}

}  // namespace reel::passes

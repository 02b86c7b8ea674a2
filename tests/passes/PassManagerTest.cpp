#include "passes/PassManager.h"

#include "InfraTestPasses.h"
#include "ir/Printer.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace reel::passes;

namespace {

const PassRegistry& testRegistry() {
  static PassRegistry* registry = [] {
    auto* created = new PassRegistry;
    testing::addTestPasses(*created);
    return created;
  }();
  return *registry;
}

PassManager managerFor(const std::string& pipeline) {
  return PassManager(Pipeline::parse(pipeline, testRegistry()));
}

/// Records every hook call as a line.
class RecordingInstrumentation : public PassInstrumentation {
 public:
  explicit RecordingInstrumentation(std::vector<std::string>& log) : log_(log) {}
  void beforePipeline(const Pipeline& pipeline, const reel::ir::Module& /*module*/) override {
    log_.push_back("begin " + pipeline.str());
  }
  void beforePass(const PassRun& run, const reel::ir::Module& /*module*/) override {
    log_.push_back("before " + run.name());
  }
  void afterPass(const PassRun& run, const reel::ir::Module& /*module*/, bool changed) override {
    log_.push_back("after " + run.name() + (changed ? " changed" : " unchanged"));
  }
  void beforeVerify(const PassRun& run) override { log_.push_back("verify " + run.name()); }
  void onPassFailure(const PassFailure& failure) override { log_.push_back("failed " + failure.run.name()); }
  void afterPipeline(const Pipeline& /*pipeline*/, const reel::ir::Module& /*module*/) override {
    log_.push_back("end");
  }

 private:
  std::vector<std::string>& log_;
};

/// A fresh empty directory under the system temp dir.
std::filesystem::path freshDir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("reel-passes-test-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

}  // namespace

TEST_CASE("the pass manager runs passes in order and reports changes", "[passes][manager]") {
  auto module = testing::tinyModule();
  PassContext context;
  std::vector<std::string> log;
  PassManager manager = managerFor("mark{value=2},mark{value=2},mark{value=3}");
  manager.addInstrumentation(std::make_unique<RecordingInstrumentation>(log));
  CHECK(manager.run(*module, context));
  CHECK(module->graphs[0]->attrs().getInt("marked") == 3);
  // The verifier runs only after the passes that reported a change.
  CHECK(log == std::vector<std::string>{"begin mark{value=2},mark{value=2},mark{value=3}", "before mark",
                                        "after mark changed", "verify mark", "before mark", "after mark unchanged",
                                        "before mark", "after mark changed", "verify mark", "end"});
  CHECK_FALSE(managerFor("mark{value=3}").run(*module, context));
}

TEST_CASE("a pass that breaks the IR is named", "[passes][manager]") {
  auto module = testing::tinyModule();
  PassContext context;
  std::vector<std::string> log;
  PassManager manager = managerFor("mark,break,mark{value=5}");
  manager.addInstrumentation(std::make_unique<RecordingInstrumentation>(log));
  try {
    manager.run(*module, context);
    FAIL("no error");
  } catch (const PassError& error) {
    CHECK(error.passName() == "break");
    CHECK(std::string(error.what()) ==
          "pass 'break' produced invalid IR: tiny.ir:5:3: graph @g: op 'output' (): needs a string attribute 'name'");
  }
  CHECK(log.back() == "failed break");
}

TEST_CASE("a pass that reports no change is not verified again", "[passes][manager]") {
  auto module = testing::tinyModule();
  PassContext context;
  CHECK_FALSE(managerFor("break-quietly").run(*module, context));
  PassManagerOptions noVerify;
  noVerify.verifyEach = false;
  auto other = testing::tinyModule();
  CHECK(PassManager(Pipeline::parse("break", testRegistry()), noVerify).run(*other, context));
}

TEST_CASE("a pass that throws is named, and invalid input is refused before any pass", "[passes][manager]") {
  auto module = testing::tinyModule();
  PassContext context;
  try {
    managerFor("mark,throw").run(*module, context);
    FAIL("no error");
  } catch (const PassError& error) {
    CHECK(std::string(error.what()) == "pass 'throw' failed: boom");
  }
  auto broken = testing::tinyModule();
  for (const std::unique_ptr<reel::ir::Op>& op : broken->graphs[0]->ops()) op->attrs().erase("name");
  try {
    managerFor("mark").run(*broken, context);
    FAIL("no error");
  } catch (const PassError&) {
    FAIL("blamed a pass for invalid input");
  } catch (const reel::Error& error) {
    CHECK(std::string(error.what()).find("needs a string attribute 'name'") != std::string::npos);
  }
  CHECK_FALSE(broken->graphs[0]->attrs().has("marked"));
}

TEST_CASE("a failure writes a reproducer: the IR before the pass and the rest of the pipeline", "[passes][manager]") {
  std::filesystem::path dir = freshDir("reproducer");
  auto module = testing::tinyModule();
  PassContext context;
  PassManager manager = managerFor("mark{value=7},throw,mark");
  manager.addInstrumentation(
      std::make_unique<ReproducerInstrumentation>(ReproducerOptions{dir.string(), "--gpu=a100"}));
  std::vector<std::string> notes;
  try {
    manager.run(*module, context);
  } catch (const PassError& error) {
    notes = error.notes();
  }
  std::filesystem::path path = dir / "reel-reproducer-throw.ir";
  REQUIRE(notes.size() == 1);
  CHECK(notes[0] ==
        "reproducer written to " + path.string() + " (rerun: reel opt " + path.string() + " --run-reproducer)");
  std::string text = readFile(path);
  CHECK(text.rfind("// reel-reproducer: --passes='throw,mark' --gpu=a100\n// pass 'throw' failed: boom\n", 0) == 0);
  CHECK(text.find("graph @g attributes {marked = 7}") != std::string::npos);  // the IR after mark, before throw
  CHECK(reproducerFlags(text) == "--passes='throw,mark' --gpu=a100");
  // The reproducer is valid IR.
  CHECK(reel::ir::printModule(*reel::ir::parseModule(text, "r.ir")) == text.substr(text.find("module")));
}

TEST_CASE("instrumentation prints IR, times passes and dumps files", "[passes][manager]") {
  std::filesystem::path dir = freshDir("dump");
  auto module = testing::tinyModule();
  PassContext context;
  std::ostringstream printed;
  std::ostringstream timing;
  PrintIrOptions print;
  print.before = {"mark"};
  print.afterChange = true;
  PassManager manager = managerFor("mark,mark");
  manager.addInstrumentation(std::make_unique<PrintIrInstrumentation>(print, printed));
  manager.addInstrumentation(std::make_unique<TimingInstrumentation>(timing));
  manager.addInstrumentation(std::make_unique<DumpDirInstrumentation>(dir.string()));
  manager.run(*module, context);

  std::string dumps = printed.str();
  CHECK(dumps.find("// ----- IR before mark (pass 1 of 2) -----\nmodule @t") == 0);
  CHECK(dumps.find("// ----- IR after mark (pass 1 of 2) -----") != std::string::npos);
  CHECK(dumps.find("// ----- IR before mark (pass 2 of 2) -----") != std::string::npos);
  CHECK(dumps.find("// ----- IR after mark (pass 2 of 2) -----") == std::string::npos);  // no change

  std::string table = timing.str();
  CHECK(table.find("pass timing") != std::string::npos);
  CHECK(table.find("  mark\n") != std::string::npos);
  CHECK(table.find("  mark  (no change)\n") != std::string::npos);
  CHECK(table.find("(verifier)") != std::string::npos);
  CHECK(table.find("100.0%  total") != std::string::npos);

  CHECK(readFile(dir / "000-input.ir").find("graph @g {") != std::string::npos);
  CHECK(readFile(dir / "001-mark.ir").find("graph @g attributes {marked = 1} {") != std::string::npos);
  CHECK(std::filesystem::exists(dir / "002-mark.ir"));
}

TEST_CASE("cloneModule copies graphs and attributes", "[passes][manager]") {
  auto module = testing::tinyModule();
  module->attrs.set("arch", std::string("llama"));
  auto copy = cloneModule(*module);
  CHECK(reel::ir::printModule(*copy) == reel::ir::printModule(*module));
  copy->graphs[0]->attrs().set("x", int64_t{1});
  CHECK_FALSE(module->graphs[0]->attrs().has("x"));
}

#include "passes/Pipeline.h"

#include "InfraTestPasses.h"

#include <catch2/catch.hpp>

#include <algorithm>

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

Pipeline parse(const std::string& text) {
  return Pipeline::parse(text, testRegistry());
}

/// The error message of parsing `text`.
std::string parseError(const std::string& text) {
  try {
    parse(text);
  } catch (const reel::Error& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("pipelines print back exactly", "[passes][pipeline]") {
  for (const char* text : {"", "mark", "mark,throw,mark", "fuse-gate-up{max-m=8}", "mark,fuse-gate-up{max-m=8},throw",
                           "fuse-gate-up{scale=0.25,kernel=hgemm,max-m=8,fp8=true,buckets=[1,2,4]}",
                           "fuse-gate-up{buckets=[]}", "mark{value=-3}"})
    CHECK(parse(text).str() == text);
}

TEST_CASE("pipelines print in canonical form", "[passes][pipeline]") {
  CHECK(parse(" mark , fuse-gate-up { max-m = 8 , min-m=2 } ").str() == "mark,fuse-gate-up{max-m=8,min-m=2}");
  CHECK(parse("mark{}").str() == "mark");
  CHECK(parse("fuse-gate-up{buckets=[1, 2,\n4]}").str() == "fuse-gate-up{buckets=[1,2,4]}");
  CHECK(parse("mark,\nthrow").str() == "mark,throw");
}

TEST_CASE("pipeline entries carry typed options", "[passes][pipeline]") {
  Pipeline pipeline = parse("mark,fuse-gate-up{max-m=8,fp8=true}");
  REQUIRE(pipeline.size() == 2);
  const PipelineEntry& fuse = pipeline.entries()[1];
  CHECK(fuse.name() == "fuse-gate-up");
  CHECK(fuse.options.getInt("max-m") == 8);
  CHECK(fuse.options.getBool("fp8"));
  CHECK(fuse.options.getInt("min-m") == 2);
  CHECK_FALSE(fuse.options.given("min-m"));
  CHECK(pipeline.strFrom(1) == "fuse-gate-up{max-m=8,fp8=true}");
  CHECK(pipeline.strFrom(2).empty());
  CHECK(pipeline.entries()[0].instantiate()->options().getInt("value") == 1);
}

TEST_CASE("bad pipelines are one-line errors naming the place", "[passes][pipeline]") {
  CHECK(parseError("mark,fuse-gate-upp") ==
        "--passes:1:6: unknown pass 'fuse-gate-upp' (did you mean 'fuse-gate-up'?)");
  CHECK(parseError("mark,zzz") == "--passes:1:6: unknown pass 'zzz'");
  CHECK(
      parseError("fuse-gate-up{max-n=8}") ==
      "--passes:1:14: pass 'fuse-gate-up' has no option 'max-n' (options: max-m, min-m, fp8, kernel, buckets, scale)");
  CHECK(parseError("mark{x=1}") == "--passes:1:6: pass 'mark' has no option 'x' (options: value)");
  CHECK(parseError("throw{x=1}") == "--passes:1:7: pass 'throw' has no options, got 'x'");
  CHECK(parseError("fuse-gate-up{max-m=eight}") ==
        "--passes:1:20: pass 'fuse-gate-up': option 'max-m' expects an integer, got 'eight'");
  CHECK(parseError("fuse-gate-up{fp8=yes}") ==
        "--passes:1:18: pass 'fuse-gate-up': option 'fp8' expects true or false, got 'yes'");
  CHECK(parseError("fuse-gate-up{buckets=[1,x]}") ==
        "--passes:1:22: pass 'fuse-gate-up': option 'buckets' expects a list of integers such as [1,2,4], got '[1,x]'");
  CHECK(parseError("fuse-gate-up{scale=fast}") ==
        "--passes:1:20: pass 'fuse-gate-up': option 'scale' expects a number, got 'fast'");
  CHECK(parseError("fuse-gate-up{max-m=8") ==
        "--passes:1:13: unbalanced braces: '{' of pass 'fuse-gate-up' is never closed");
  CHECK(parseError("mark}") == "--passes:1:5: unbalanced braces: '}' without a matching '{'");
  CHECK(parseError("fuse-gate-up{max-m=8,max-m=4}") == "--passes:1:22: option 'max-m' given twice");
  CHECK(parseError("mark,") == "--passes:1:6: expected a pass name after ','");
  CHECK(parseError("mark throw") == "--passes:1:6: expected ',' between passes, got 't'");
  CHECK(parseError("fuse-gate-up{max-m}") == "--passes:1:19: expected '=' after option 'max-m'");
  CHECK(parseError("fuse-gate-up{max-m=}") == "--passes:1:20: expected a value for option 'max-m'");
  CHECK(parseError("fuse-gate-up{buckets=[1,2}") == "--passes:1:26: unexpected '}' in a list");
  CHECK(parseError("mark,\n  zzz") == "--passes:2:3: unknown pass 'zzz'");
}

TEST_CASE("the error origin names where the pipeline came from", "[passes][pipeline]") {
  try {
    Pipeline::parse("zzz", testRegistry(), "reproducer header");
    FAIL("no error");
  } catch (const reel::Error& error) {
    CHECK(std::string(error.what()) == "reproducer header:1:1: unknown pass 'zzz'");
  }
}

TEST_CASE("the default pipeline parses against the pass table and prints back", "[passes][pipeline]") {
  Pipeline pipeline = Pipeline::parse(kDefaultPipeline);
  CHECK(pipeline.str() == kDefaultPipeline);
  CHECK(pipeline.size() == 15);
  CHECK(pipeline.entries().front().name() == "specialize-buckets");
  CHECK(pipeline.entries().back().name() == "plan-memory");
}

TEST_CASE("every pass of the table instantiates with its default options", "[passes][table]") {
  for (const RegisteredPass* pass : PassRegistry::global().all()) {
    INFO(pass->info.name);
    Pipeline pipeline = Pipeline::parse(pass->info.name);
    CHECK(pipeline.entries()[0].instantiate() != nullptr);
    CHECK_FALSE(pass->info.summary.empty());
    const std::vector<std::string>& phases = passPhases();
    CHECK(std::find(phases.begin(), phases.end(), pass->info.phase) != phases.end());
  }
}

#include "passes/Pass.h"

#include <catch2/catch.hpp>

using namespace reel::passes;

namespace {

std::vector<OptionSpec> specs() {
  return {{"max-m", OptionKind::Int, "", "from the profile"},
          {"min-m", OptionKind::Int, "2", ""},
          {"fp8", OptionKind::Bool, "false", ""},
          {"kernel", OptionKind::String, "dp4a", ""},
          {"buckets", OptionKind::IntList, "[1,2,4]", ""},
          {"scale", OptionKind::Float, "0.5", ""}};
}

std::string errorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const reel::Error& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("options take their defaults unless given", "[passes][options]") {
  PassOptions options(specs(), {{"min-m", "3"}, {"kernel", "hgemm"}});
  CHECK(options.given("min-m"));
  CHECK_FALSE(options.given("fp8"));
  CHECK(options.getInt("min-m") == 3);
  CHECK(options.getBool("fp8") == false);
  CHECK(options.getString("kernel") == "hgemm");
  CHECK(options.getIntList("buckets") == std::vector<int64_t>{1, 2, 4});
  CHECK(options.getFloat("scale") == 0.5);
  // max-m has no default: the caller's fallback (the profile's threshold) applies.
  CHECK(options.getIntOr("max-m", 8) == 8);
  CHECK(options.getIntOr("min-m", 9) == 3);
  CHECK(options.str() == "min-m=3,kernel=hgemm");  // declaration order
}

TEST_CASE("options given in pipeline order print in that order", "[passes][options]") {
  PassOptions options = PassOptions::inGivenOrder(specs(), {{"kernel", "mma"}, {"max-m", "8"}, {"buckets", "[]"}});
  CHECK(options.str() == "kernel=mma,max-m=8,buckets=[]");
  CHECK(options.getIntOr("max-m", 4) == 8);
  CHECK(options.getIntList("buckets").empty());
}

TEST_CASE("an empty option set", "[passes][options]") {
  PassOptions options;
  CHECK(options.str().empty());
  CHECK(errorOf([&] { (void)options.given("x"); }) == "unknown pass option 'x'");
}

TEST_CASE("option values are checked by kind", "[passes][options]") {
  CHECK(errorOf([] {
          (void)PassOptions(specs(), {{"min-m", "two"}});
        }) == "option 'min-m' expects an integer, got 'two'");
  CHECK(errorOf([] { (void)PassOptions(specs(), {{"fp8", "1"}}); }) == "option 'fp8' expects true or false, got '1'");
  CHECK(errorOf([] {
          (void)PassOptions(specs(), {{"scale", "1e999"}});
        }) == "option 'scale' expects a number, got '1e999'");
  CHECK(errorOf([] {
          (void)PassOptions(specs(), {{"buckets", "[1,]"}});
        }) == "option 'buckets' expects a list of integers such as [1,2,4], got '[1,]'");
  CHECK(errorOf([] {
          (void)PassOptions(specs(), {{"kernel", "a b"}});
        }) == "option 'kernel' expects a word without spaces or ,{}[]=, got 'a b'");
  CHECK(errorOf([] { (void)PassOptions(specs(), {{"nope", "1"}}); }) == "unknown pass option 'nope'");
  CHECK(errorOf([] {
          (void)PassOptions::inGivenOrder(specs(), {{"min-m", "1"}, {"min-m", "2"}});
        }) == "option 'min-m' given twice");
}

TEST_CASE("reading an option without a default or of another name fails clearly", "[passes][options]") {
  PassOptions options(specs(), {});
  CHECK(errorOf([&] { (void)options.getInt("max-m"); }).find("option 'max-m' has no default") != std::string::npos);
  CHECK(errorOf([&] { (void)options.getInt("kernel"); }) == "option 'kernel' is not an integer: 'dp4a'");
  CHECK(errorOf([&] { (void)options.getBool("nope"); }) == "unknown pass option 'nope'");
}

TEST_CASE("optionValueError accepts what each kind allows", "[passes][options]") {
  OptionSpec intList{"b", OptionKind::IntList, "", ""};
  CHECK_FALSE(optionValueError(intList, "[1, 2, 3]"));
  CHECK_FALSE(optionValueError(intList, "[-1]"));
  CHECK(optionValueError(intList, "1,2"));
  OptionSpec real{"f", OptionKind::Float, "", ""};
  CHECK_FALSE(optionValueError(real, "1e-3"));
  CHECK_FALSE(optionValueError(real, "7"));
  CHECK(optionValueError(real, "nan"));
}

TEST_CASE("enum options take one of their choices, numbered in declaration order", "[passes][options]") {
  const std::vector<OptionSpec> declared = {enumOption("mode", "cost", {"cost", "always", "never"}, "")};
  CHECK(PassOptions(declared, {}).getChoice("mode") == 0);
  CHECK(PassOptions(declared, {{"mode", "never"}}).getChoice("mode") == 2);
  CHECK(PassOptions(declared, {{"mode", "never"}}).getString("mode") == "never");
  CHECK(errorOf([&] {
          (void)PassOptions(declared, {{"mode", "sometimes"}});
        }) == "option 'mode' expects one of cost, always, never, got 'sometimes'");
  CHECK(optionTypeText(declared.front()) == "cost|always|never");
}

TEST_CASE("integer options with a least value refuse smaller ones", "[passes][options]") {
  const OptionSpec alignment = OptionSpec{"alignment", OptionKind::Int, "256", ""}.atLeast(1);
  CHECK_FALSE(optionValueError(alignment, "1"));
  CHECK(*optionValueError(alignment, "0") == "option 'alignment' expects an integer >= 1, got '0'");
  CHECK(optionTypeText(alignment) == "int >= 1");
  const OptionSpec sizes = OptionSpec{"sizes", OptionKind::IntList, "", ""}.atLeast(1);
  CHECK_FALSE(optionValueError(sizes, "[1,2]"));
  CHECK(*optionValueError(sizes, "[1,0]") ==
        "option 'sizes' expects a list of integers >= 1 such as [1,2,4], got '[1,0]'");
}

TEST_CASE("option declarations are checked", "[passes][options]") {
  CHECK(*optionDeclarationError(enumOption("mode", "", {}, "")) == "enum option 'mode' declares no choices");
  CHECK(*optionDeclarationError(enumOption("mode", "", {"a b"}, "")) ==
        "option 'mode': choice 'a b' is not a word without spaces or ,{}[]=");
  CHECK(*optionDeclarationError(enumOption("mode", "sometimes", {"cost", "never"}, "")) ==
        "default of option 'mode' expects one of cost, never, got 'sometimes'");
  OptionSpec word{"word", OptionKind::String, "", "", {"a"}};
  CHECK(*optionDeclarationError(word) == "option 'word' declares choices but is not an enum");
  CHECK(*optionDeclarationError(OptionSpec{"f", OptionKind::Float, "", ""}.atLeast(0)) ==
        "option 'f' declares a least value but is not an integer option");
  CHECK(*optionDeclarationError(OptionSpec{"n", OptionKind::Int, "0", ""}.atLeast(1)) ==
        "default of option 'n' expects an integer >= 1, got '0'");
  CHECK_FALSE(optionDeclarationError(enumOption("mode", "cost", {"cost", "never"}, "")));
}

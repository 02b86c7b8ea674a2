#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <catch2/catch.hpp>

using namespace reel::ir;

namespace {

const char* kSmall =
    R"(module @small attributes {arch = "llama", eps = 1e-05, ratio = 0.5, tied = false, ids = [1, 2, 3]}

graph @step attributes {phase = "decode"} {
  %token_ids = input {name = "token_ids"} : i32[M]
  %token_embd = weight {name = "token_embd.weight"} : q4_k[512, 256]
  %x0 = embedding %token_ids, %token_embd : f32[M, 256]
  layer 0 {
    %blk.0.attn_norm = weight {name = "blk.0.attn_norm.weight"} : f32[256]
    %l0.attn_in = rms_norm %x0, %blk.0.attn_norm {eps = 1e-05} : f32[M, 256]
    %l0.h = add %x0, %l0.attn_in : f32[M, 256]
  }
  %next = argmax %l0.h : i32[M]
  output %next {name = "next_tokens"}
}
)";

std::string roundTrip(const std::string& text) {
  return printModule(*parseModule(text, "t.ir"));
}

std::string parseError(const std::string& text) {
  try {
    std::unique_ptr<Module> module = parseModule(text, "bad.ir");
    verifyModule(*module);
  } catch (const reel::Error& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("print -> parse -> print is byte-identical", "[ir][text]") {
  std::string once = roundTrip(kSmall);
  CHECK(once == kSmall);
  CHECK(roundTrip(once) == once);
}

TEST_CASE("parsed IR verifies and keeps layers", "[ir][text]") {
  std::unique_ptr<Module> module = parseModule(kSmall, "t.ir");
  REQUIRE_NOTHROW(verifyModule(*module));
  Graph* graph = module->findGraph("step");
  REQUIRE(graph);
  CHECK(graph->lookup("l0.h")->producer()->layer() == 0);
  CHECK(graph->lookup("next")->producer()->layer() == -1);
  CHECK(module->attrs.getFloat("ratio") == 0.5);
  CHECK(graph->lookup("l0.attn_in")->producer()->loc().str() == "t.ir:9:5");
}

TEST_CASE("float attributes keep their exact value", "[ir][text]") {
  AttrDict attrs;
  attrs.set("a", 1e-6);
  attrs.set("b", 0.1);
  attrs.set("c", 500000.0);
  attrs.set("d", 1.0 / 3.0);
  std::string text = "module @m attributes " + attrs.str() + "\n";
  std::unique_ptr<Module> module = parseModule(text, "f.ir");
  CHECK(module->attrs == attrs);
  CHECK(printModule(*module) == text);
}

TEST_CASE("parse errors name file:line:col", "[ir][text][errors]") {
  CHECK(parseError("modul @m") == "bad.ir:1:1: expected 'module', got 'modul'");
  CHECK(parseError("module @m\ngraph @g {\n  %a = frobnicate : f32[4]\n}") == "bad.ir:3:8: unknown op 'frobnicate'");
  CHECK(parseError("module @m\ngraph @g {\n  %a = add %b, %c : f32[M, 4]\n}") ==
        "bad.ir:3:12: use of undefined value %b");
  CHECK(parseError("module @m\ngraph @g {\n  %a = input {name = \"x\"} : i33[M]\n}") ==
        "bad.ir:3:29: unknown element type 'i33'");
  CHECK(parseError(
            "module @m\ngraph @g {\n  %a = input {name = \"x\"} : i32[M]\n  %a = input {name = \"y\"} : i32[M]\n}") ==
        "bad.ir:4:3: redefinition of %a");
  CHECK(parseError("module @m\ngraph @g {\n  %a = input {name = \"x} : i32[M]\n}") ==
        "bad.ir:3:22: unterminated string");
  CHECK(parseError("module @m\ngraph @g {\n  %a = input {name = \"x\"} : i32[M]\n") ==
        "bad.ir:4:1: expected '}' closing graph @g, got end of file");
  CHECK(parseError("module @m\ngraph @g {\n  %a = input {name = \"x\"} : i32[-4]\n}") ==
        "bad.ir:3:33: negative dimension -4");
  CHECK(parseError("module @m\ngraph @g {\n  %a = input {n = 99999999999999999999} : i32[M]\n}") ==
        "bad.ir:3:19: invalid integer '99999999999999999999'");
  CHECK(parseError("module @m\ngraph @g {\n  %a, %b = input {name = \"x\"} : i32[M], i32[M]\n}") ==
        "bad.ir:3:12: op 'input' has 1 results, got 2");
}

TEST_CASE("parse errors escape the bytes they quote", "[ir][text][errors]") {
  // An escape sequence outside a string: shown as \x1b, never sent to the terminal.
  CHECK(parseError("module @m\ngraph @g {\n  \x1b[2J\n}") == "bad.ir:3:3: unexpected character '\\x1b'");
  CHECK(parseError("module @m\ngraph @g {\n  \xff\n}") == "bad.ir:3:3: unexpected character '\\xff'");
  // A string holding control characters where a name is expected.
  CHECK(parseError("module @m attributes {\"a\tb\x07\" = 1}") ==
        "bad.ir:1:23: expected an attribute name, got 'a\\x09b\\x07'");
  CHECK(parseError("module @m attributes {a = \"x\\\x1b\"}") ==
        "bad.ir:1:27: unknown escape in string: '\\x1b' after a backslash (known: \\n, \\\", \\\\)");
  // Quotes and backslashes in quoted text are escaped too, so the quoting stays unambiguous.
  CHECK(parseError("module @m\n\"it's\"") == "bad.ir:2:1: expected 'graph', got 'it\\x27s'");
}

TEST_CASE("verifier errors name the op, its location and the rule", "[ir][text][errors]") {
  std::string text = R"(module @m
graph @g {
  %t = input {name = "token_ids"} : i32[M]
  %w = weight {name = "w"} : f32[8, 64]
  %x = embedding %t, %w : f32[M, 64]
  %n = weight {name = "n"} : f32[32]
  %y = rms_norm %x, %n {eps = 1e-05} : f32[M, 64]
}
)";
  CHECK(parseError(text) == "bad.ir:7:3: graph @g: op 'rms_norm' (%y): input and weight widths differ: 64 vs 32");
}

// Typed metadata accessors: the right value for the right type, and a one-line error naming
// the file and the key otherwise.

#include "tests/runtime/gguf/GgufTestSupport.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::test;
using Catch::Matchers::Contains;

TEST_CASE("typed metadata accessors return values of their exact type", "[gguf]") {
  const GgufFile file = GgufFile::fromMemory(serializeGguf(everyTypeMetadata(), {}), "m.gguf");
  const GgufMetadata& metadata = file.metadata();
  CHECK(metadata.source() == "m.gguf");
  CHECK(metadata.getU8("v.u8") == 200);
  CHECK(metadata.getI8("v.i8") == -100);
  CHECK(metadata.getU16("v.u16") == 60000);
  CHECK(metadata.getI16("v.i16") == -30000);
  CHECK(metadata.getU32("v.u32") == 4000000000u);
  CHECK(metadata.getI32("v.i32") == -2000000000);
  CHECK(metadata.getF32("v.f32") == 1.5f);
  CHECK(metadata.getBool("v.bool"));
  CHECK(metadata.getI64("v.i64") == -9000000000000000000ll);
  CHECK(metadata.getF64("v.f64") == 2.25);
  CHECK(metadata.getString("v.empty_string").empty());
  CHECK(metadata.getArrayOf<uint32_t>("a.u32") == std::vector<uint32_t>{7, 8, 9});
  CHECK(metadata.getArrayOf<float>("a.f32") == std::vector<float>{0.5f, -0.25f});
  CHECK(metadata.getArrayOf<float>("a.empty").empty());
  CHECK(metadata.getArray("a.u8").size() == 3);
  CHECK(metadata.get("a.string").str() == "array<string>[3]");
  CHECK(metadata.get("v.u8").str() == "u8 200");
  CHECK(metadata.get("v.string").str() == "string 'h\\xc3\\xa9llo, world'");
}

TEST_CASE("lenient integer and float accessors accept any width", "[gguf]") {
  const GgufFile file = GgufFile::fromMemory(serializeGguf(everyTypeMetadata(), {}), "m.gguf");
  const GgufMetadata& metadata = file.metadata();
  CHECK(metadata.getInteger("v.u8") == 200);
  CHECK(metadata.getInteger("v.i32") == -2000000000);
  CHECK(metadata.getInteger("v.u32") == 4000000000);
  CHECK(metadata.getFloat("v.f32") == 1.5);
  CHECK(metadata.getFloat("v.f64") == 2.25);
  CHECK_THROWS_WITH(metadata.getInteger("v.u64"),
                    "m.gguf: metadata key 'v.u64': u64 value 18000000000000000000 is out of range");
  CHECK_THROWS_WITH(metadata.getInteger("v.bool"), "m.gguf: metadata key 'v.bool' is bool, expected an integer");
  CHECK_THROWS_WITH(metadata.getFloat("v.u32"), "m.gguf: metadata key 'v.u32' is u32, expected f32 or f64");
}

TEST_CASE("metadata accessors name the key when it is missing or of another type", "[gguf]") {
  const GgufFile file = GgufFile::fromMemory(serializeGguf(everyTypeMetadata(), {}), "m.gguf");
  const GgufMetadata& metadata = file.metadata();
  CHECK_THROWS_AS(metadata.getU32("llama.block_count"), Error);
  CHECK_THROWS_WITH(metadata.getU32("llama.block_count"), "m.gguf: metadata key 'llama.block_count' is missing");
  CHECK_THROWS_WITH(metadata.getU32("v.i32"), "m.gguf: metadata key 'v.i32' is i32, expected u32");
  CHECK_THROWS_WITH(metadata.getString("v.u8"), "m.gguf: metadata key 'v.u8' is u8, expected string");
  CHECK_THROWS_WITH(metadata.getArray("v.string"), "m.gguf: metadata key 'v.string' is string, expected array");
  CHECK_THROWS_WITH(metadata.getArrayOf<int32_t>("a.u32"),
                    "m.gguf: metadata key 'a.u32' is array<u32>, expected array<i32>");
  CHECK_THROWS_WITH(metadata.getStringArray("a.u8"),
                    "m.gguf: metadata key 'a.u8' is array<u8>, expected array<string>");
  CHECK(metadata.find("nope") == nullptr);
  CHECK_FALSE(metadata.contains("nope"));
}

TEST_CASE("GgufMetadata keeps insertion order, replaces in place and erases", "[gguf]") {
  GgufMetadata metadata("spec");
  metadata.set("b", uint32_t{1});
  metadata.set("a", "x");
  metadata.set("b", uint32_t{2});
  REQUIRE(metadata.size() == 2);
  CHECK(metadata.entries()[0].key == "b");
  CHECK(metadata.getU32("b") == 2);
  CHECK(metadata.erase("b"));
  CHECK_FALSE(metadata.erase("b"));
  CHECK(metadata.entries()[0].key == "a");
  CHECK(metadata.getString("a") == "x");
  CHECK_THROWS_WITH(metadata.getU32("b"), "spec: metadata key 'b' is missing");
}

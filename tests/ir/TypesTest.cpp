#include "ir/Types.h"

#include "support/Diagnostics.h"

#include <catch2/catch.hpp>

#include <iterator>
#include <string>
#include <utility>

using namespace reel::ir;

using reel::quant::QType;

TEST_CASE("element type names round-trip", "[ir][types]") {
  for (size_t i = 0; i < kNumElemTypes; ++i) {
    const auto type = static_cast<ElemType>(i);
    CHECK(parseElemType(elemTypeName(type)) == type);
  }
  CHECK(elemTypeName(ElemType::I32) == "i32");
  CHECK_FALSE(parseElemType("q3_k"));
}

TEST_CASE("element types and quant::QType map both ways, member by member", "[ir][types]") {
  const std::pair<ElemType, QType> pairs[] = {
      {ElemType::F32, QType::F32},   {ElemType::F16, QType::F16},   {ElemType::BF16, QType::BF16},
      {ElemType::Q8_0, QType::Q8_0}, {ElemType::Q5_0, QType::Q5_0}, {ElemType::Q4_K, QType::Q4_K},
      {ElemType::Q6_K, QType::Q6_K}, {ElemType::Q8_1, QType::Q8_1}, {ElemType::FP8_E4M3, QType::FP8_E4M3},
      {ElemType::Q4_0, QType::Q4_0}, {ElemType::Q5_K, QType::Q5_K}, {ElemType::Q5_1, QType::Q5_1},
  };
  STATIC_REQUIRE(std::size(pairs) == reel::quant::kQTypes.size());
  for (const auto& [elem, qtype] : pairs) {
    INFO(elemTypeName(elem).str());
    CHECK(toQType(elem) == qtype);
    CHECK(toElemType(qtype) == elem);
    CHECK(elemTypeName(elem).str() == std::string(reel::quant::qtypeName(qtype)));
    CHECK(blockElems(elem) == static_cast<int64_t>(reel::quant::blockElems(qtype)));
    CHECK(blockBytes(elem) == static_cast<int64_t>(reel::quant::blockBytes(qtype)));
  }
  // Every element type but i32 is a storage format, and converting there and back is the identity.
  for (size_t i = 0; i < kNumElemTypes; ++i) {
    const auto elem = static_cast<ElemType>(i);
    if (elem == ElemType::I32) continue;
    CHECK(toElemType(toQType(elem)) == elem);
  }
  CHECK_THROWS_AS(toQType(ElemType::I32), reel::Error);
}

TEST_CASE("block sizes follow the GGUF formats", "[ir][types]") {
  CHECK(blockElems(ElemType::Q4_K) == 256);
  CHECK(blockBytes(ElemType::Q4_K) == 144);
  CHECK(blockBytes(ElemType::Q6_K) == 210);
  CHECK(blockBytes(ElemType::Q8_0) == 34);
  CHECK(blockBytes(ElemType::Q5_0) == 22);
  CHECK(blockBytes(ElemType::Q4_0) == 18);
  CHECK(blockElems(ElemType::Q5_1) == 32);
  CHECK(blockBytes(ElemType::Q5_1) == 24);
  CHECK(blockElems(ElemType::Q5_K) == 256);
  CHECK(blockBytes(ElemType::Q5_K) == 176);
  CHECK(blockBytes(ElemType::Q8_1) == 36);
  CHECK(blockBytes(ElemType::FP8_E4M3) == 1);
  CHECK(blockBytes(ElemType::I32) == 4);
  CHECK_FALSE(isQuantized(ElemType::F16));
  CHECK_FALSE(isQuantized(ElemType::I32));
}

TEST_CASE("tensor types print, substitute M and count bytes", "[ir][types]") {
  TensorType act(ElemType::F32, {kDimM, 4096});
  CHECK(act.str() == "f32[M, 4096]");
  CHECK_FALSE(act.isStatic());
  CHECK(act.withM(8).str() == "f32[8, 4096]");
  CHECK(act.numBytes(4, 0) == 4 * 4096 * 4);
  TensorType weight(ElemType::Q4_K, {4096, 4096});
  CHECK(weight.numBytes(1, 1) == 4096 * 16 * 144);
  CHECK_FALSE(TensorType(ElemType::Q4_K, {1, 100}).numBytes(1, 1));                             // ragged block
  CHECK_FALSE(TensorType(ElemType::F32, {int64_t(1) << 40, int64_t(1) << 40}).numBytes(1, 1));  // overflow
}

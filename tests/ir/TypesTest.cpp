#include "ir/Types.h"

#include <catch2/catch.hpp>

using namespace reel::ir;

TEST_CASE("element type names round-trip", "[ir][types]") {
  for (ElemType type : {ElemType::F32, ElemType::F16, ElemType::BF16, ElemType::FP8_E4M3, ElemType::I32, ElemType::Q4_K,
                        ElemType::Q5_0, ElemType::Q6_K, ElemType::Q8_0, ElemType::Q8_1})
    CHECK(parseElemType(elemTypeName(type)) == type);
  CHECK_FALSE(parseElemType("q3_k"));
}

TEST_CASE("block sizes follow the GGUF formats", "[ir][types]") {
  CHECK(blockElems(ElemType::Q4_K) == 256);
  CHECK(blockBytes(ElemType::Q4_K) == 144);
  CHECK(blockBytes(ElemType::Q6_K) == 210);
  CHECK(blockBytes(ElemType::Q8_0) == 34);
  CHECK(blockBytes(ElemType::Q5_0) == 22);
  CHECK(blockBytes(ElemType::Q8_1) == 36);
  CHECK_FALSE(isQuantized(ElemType::F16));
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

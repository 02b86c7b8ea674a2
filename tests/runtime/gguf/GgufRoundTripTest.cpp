// Writer -> reader round trips: the same metadata and the same tensor bytes come back, for
// every value type and every supported tensor type, through a file (mmap) and memory.

#include "tests/runtime/gguf/GgufTestSupport.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace reel;
using namespace reel::test;
using Catch::Matchers::Contains;

namespace {

/// Checks that `file` holds exactly `metadata` (plus general.alignment) and `tensors`.
void checkContents(const GgufFile& file, const GgufMetadata& metadata, const std::vector<GgufTensorBlob>& tensors) {
  GgufMetadata expected = metadata;
  if (!expected.contains(kGgufAlignmentKey)) expected.set(std::string(kGgufAlignmentKey), kGgufDefaultAlignment);
  CHECK(file.metadata() == expected);
  REQUIRE(file.tensors().size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& info = file.tensors()[i];
    INFO(info.name);
    CHECK(info.name == tensors[i].decl.name);
    CHECK(info.type == tensors[i].decl.type);
    CHECK(std::vector<int64_t>(info.dims().begin(), info.dims().end()) == tensors[i].decl.ne);
    CHECK(info.fileOffset % file.alignment() == 0);
    const std::span<const uint8_t> data = file.tensorData(info.name);
    CHECK(std::vector<uint8_t>(data.begin(), data.end()) == tensors[i].data);
  }
}

}  // namespace

TEST_CASE("GGUF round trip through a file keeps every metadata type and tensor type", "[gguf]") {
  const GgufMetadata metadata = everyTypeMetadata();
  const std::vector<GgufTensorBlob> tensors = everyTypeTensors();
  TempDir dir;
  const auto path = dir.file("every.gguf");
  writeGgufFile(path, metadata, tensors);
  CHECK_FALSE(std::filesystem::exists(path.string() + ".partial"));

  const GgufFile file = GgufFile::open(path);
  CHECK(file.version() == 3);
  CHECK(file.alignment() == 32);
  CHECK(file.dataOffset() % 32 == 0);
  CHECK(file.name() == path.string());
  checkContents(file, metadata, tensors);

  CHECK(file.metadata().getString("v.string") == "h\xc3\xa9llo, world");
  CHECK(file.metadata().getU64("v.u64") == 18000000000000000000ull);
  CHECK(file.metadata().getArrayOf<bool>("a.bool") == std::vector<bool>{true, false, true});
  CHECK(file.metadata().getStringArray("a.string") == std::vector<std::string>{"<s>", "", "tok\n"});
  const GgufArray& nested = file.metadata().getArray("a.nested");
  REQUIRE(nested.arrays().size() == 3);
  CHECK(nested.arrays()[2].arrays()[0].as<bool>() == std::vector<bool>{false});

  const GgufTensorInfo& q4k = file.tensor("t.q4_k");
  CHECK(q4k.ggmlType == ggml_type::kQ4_K);
  CHECK(q4k.byteSize == 2 * 144);
  CHECK(q4k.elementCount() == 512);
  CHECK(q4k.rowCount() == 2);
  const GgufTensorInfo& q51 = file.tensor("t.q5_1");  // ggml's id 7, blocks of 32 in 24 bytes
  CHECK(q51.ggmlType == 7);
  CHECK(q51.type == quant::QType::Q5_1);
  CHECK(q51.byteSize == 6 * 24);
  CHECK(file.findTensor("absent") == nullptr);
  CHECK_THROWS_WITH(file.tensor("absent"), Contains("no tensor named 'absent'"));
}

TEST_CASE("GGUF round trip through memory, with a larger alignment", "[gguf]") {
  GgufMetadata metadata = everyTypeMetadata();
  metadata.set(std::string(kGgufAlignmentKey), uint32_t{256});
  const std::vector<GgufTensorBlob> tensors = everyTypeTensors();
  const std::vector<uint8_t> bytes = serializeGguf(metadata, tensors);
  CHECK(bytes.size() % 256 == 0);
  const GgufFile file = GgufFile::fromMemory(bytes, "mem.gguf");
  CHECK(file.alignment() == 256);
  checkContents(file, metadata, tensors);
}

TEST_CASE("GGUF writer streams data in chunks of any size with the same result", "[gguf]") {
  const GgufMetadata metadata = everyTypeMetadata();
  const std::vector<GgufTensorBlob> tensors = everyTypeTensors();
  const std::vector<uint8_t> oneShot = serializeGguf(metadata, tensors);

  std::vector<uint8_t> allData;
  for (const GgufTensorBlob& tensor : tensors) allData.insert(allData.end(), tensor.data.begin(), tensor.data.end());
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{100}, allData.size()}) {
    std::ostringstream out(std::ios::binary);
    GgufWriter writer(out, "stream");
    writer.setMetadata(metadata);
    for (const GgufTensorBlob& tensor : tensors) writer.addTensor(tensor.decl);
    writer.writeHeader();
    for (size_t at = 0; at < allData.size(); at += chunk) {
      writer.writeTensorData(std::span(allData).subspan(at, std::min(chunk, allData.size() - at)));
    }
    writer.finish();
    const std::string text = out.str();
    CHECK(std::vector<uint8_t>(text.begin(), text.end()) == oneShot);
    CHECK(writer.bytesWritten() == oneShot.size());
  }
}

TEST_CASE("GGUF version 2 files and files without tensors are read", "[gguf]") {
  std::vector<uint8_t> bytes = smallValidFile();
  bytes[4] = 2;
  const GgufFile v2 = GgufFile::fromMemory(bytes, "v2.gguf");
  CHECK(v2.version() == 2);
  CHECK(v2.tensors().size() == 3);

  GgufMetadata metadata;
  metadata.set("general.architecture", "none");
  const GgufFile empty = GgufFile::fromMemory(serializeGguf(metadata, {}), "empty.gguf");
  CHECK(empty.tensors().empty());
  CHECK(empty.metadata().getString("general.architecture") == "none");
}

TEST_CASE("GGUF writer rejects what the reader would reject", "[gguf]") {
  using quant::QType;
  std::ostringstream out;
  GgufWriter writer(out, "w.gguf");
  writer.addTensor({"a", QType::F32, {4}});
  CHECK_THROWS_WITH(writer.addTensor({"a", QType::F32, {4}}), "w.gguf: tensor 'a': the name appears twice");
  CHECK_THROWS_WITH(writer.addTensor({std::string(64, 'n'), QType::F32, {4}}), Contains("is longer than 63 bytes"));
  CHECK_THROWS_WITH(writer.addTensor({"", QType::F32, {4}}), Contains("the name is empty"));
  CHECK_THROWS_WITH(writer.addTensor({"b", QType::Q4_K, {100}}), Contains("invalid shape [100] for q4_k"));
  CHECK_THROWS_WITH(writer.addTensor({"b", QType::F32, {0}}), Contains("invalid shape [0]"));
  CHECK_THROWS_WITH(writer.addTensor({"b", QType::F32, {1, 2, 3, 4, 5}}), Contains("5 dimensions"));
  CHECK_THROWS_WITH(writer.addTensor({"b", QType::F32, {1ll << 40, 1ll << 40}}), Contains("invalid shape"));
  CHECK_THROWS_WITH(writer.addTensor({"b", QType::Q8_1, {32}}), Contains("q8_1 cannot be stored in GGUF"));
  CHECK_THROWS_WITH(writer.setMetadata("", 1.0f), Contains("metadata key is empty"));
  writer.setMetadata(std::string(kGgufAlignmentKey), uint32_t{3});
  CHECK_THROWS_WITH(writer.writeHeader(), Contains("must be a u32 power of two, not u32 3"));
}

TEST_CASE("GGUF writer checks the amount of tensor data", "[gguf]") {
  using quant::QType;
  {
    std::ostringstream out;
    GgufWriter writer(out, "w.gguf");
    writer.addTensor({"a", QType::F32, {4}});
    writer.writeHeader();
    const std::vector<uint8_t> data(10);
    writer.writeTensorData(data);
    CHECK_THROWS_WITH(writer.finish(), "w.gguf: tensor 'a' got 10 of its 16 bytes of data");
    CHECK_THROWS_WITH(writer.writeTensorData(std::vector<uint8_t>(7)),
                      Contains("1 bytes of data beyond the last tensor"));
  }
  {
    std::ostringstream out;
    GgufWriter writer(out, "w.gguf");
    CHECK_THROWS_AS(writer.writeTensorData({}), std::logic_error);
  }
}

TEST_CASE("GGUF writer leaves no partial file behind when abandoned", "[gguf]") {
  TempDir dir;
  const auto path = dir.file("abandoned.gguf");
  {
    GgufWriter writer(path);
    writer.addTensor({"a", quant::QType::F32, {4}});
    writer.writeHeader();
    CHECK(std::filesystem::exists(path.string() + ".partial"));
  }
  CHECK_FALSE(std::filesystem::exists(path.string() + ".partial"));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("GGUF reader reports unreadable paths", "[gguf]") {
  TempDir dir;
  CHECK_THROWS_WITH(GgufFile::open(dir.file("missing.gguf")), Contains("missing.gguf: cannot open: No such file"));
  CHECK_THROWS_WITH(GgufFile::open(dir.file("")), Contains("not a regular file"));
  const auto empty = dir.file("empty.gguf");
  std::ofstream(empty).close();
  CHECK_THROWS_WITH(GgufFile::open(empty), Contains("empty.gguf: offset 0: magic: unexpected end of file"));
}

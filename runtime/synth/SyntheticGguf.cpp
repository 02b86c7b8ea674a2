#include "runtime/synth/SyntheticGguf.h"

#include "runtime/gguf/GgufWriter.h"
#include "runtime/synth/SynthRandom.h"
#include "support/Diagnostics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <numeric>
#include <span>
#include <sstream>
#include <thread>

namespace reel {

void synthesizeRows(const SynthTensor& tensor, uint64_t seed, int64_t firstRow, int64_t rowCount, float* out) {
  using synth_random::mix64;
  const int64_t rowLength = tensor.ne.at(0);
  const uint64_t tensorSeed = mix64(seed ^ synth_random::hashName(tensor.name));
  for (int64_t r = 0; r < rowCount; ++r) {
    synth_random::SplitMix64 random(mix64(tensorSeed + static_cast<uint64_t>(firstRow + r)));
    float* row = out + r * rowLength;
    for (int64_t i = 0; i < rowLength; ++i) row[i] = tensor.mean + tensor.scale * random.nextNormalish();
  }
}

namespace {

/// Elements generated per work item (whole rows; at least one row).
constexpr int64_t kChunkElements = int64_t{1} << 20;

/// A range of rows of one tensor: the unit of work and of writing.
struct Chunk {
  size_t tensor = 0;
  int64_t firstRow = 0;
  int64_t rowCount = 0;
};

std::vector<Chunk> planChunks(const std::vector<SynthTensor>& tensors) {
  std::vector<Chunk> chunks;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const std::vector<int64_t>& ne = tensors[t].ne;
    int64_t rows = 1;
    for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];  // shapes were validated by the writer
    const int64_t rowsPerChunk = std::max<int64_t>(1, kChunkElements / ne[0]);
    for (int64_t first = 0; first < rows; first += rowsPerChunk) {
      chunks.push_back({t, first, std::min(rowsPerChunk, rows - first)});
    }
  }
  return chunks;
}

/// Generates and quantizes the rows of one chunk into `out`.
void fillChunk(const SynthTensor& tensor, uint64_t seed, const Chunk& chunk, std::vector<float>& scratch,
               std::vector<uint8_t>& out) {
  const int64_t rowLength = tensor.ne[0];
  const size_t rowBytes = quant::rowBytes(tensor.type, rowLength);
  scratch.resize(static_cast<size_t>(rowLength));
  out.resize(rowBytes * static_cast<size_t>(chunk.rowCount));
  for (int64_t r = 0; r < chunk.rowCount; ++r) {
    synthesizeRows(tensor, seed, chunk.firstRow + r, 1, scratch.data());
    quant::quantizeRow(tensor.type, scratch.data(), out.data() + rowBytes * static_cast<size_t>(r), rowLength);
  }
}

/// Workers fill chunks, at most `window` ahead of the writer; the calling thread hands
/// the chunks to the sink in order.
class ChunkPipeline {
 public:
  using Sink = std::function<void(std::span<const uint8_t>)>;

  ChunkPipeline(const SynthSpec& spec, std::vector<Chunk> chunks)
      : spec_(spec),
        chunks_(std::move(chunks)),
        workerCount_(std::max(1u, spec.threads)),
        slots_(2 * workerCount_ + 2) {}

  void run(const Sink& sink) {
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < workerCount_; ++i) workers.emplace_back([this] { work(); });
    try {
      drain(sink);
    } catch (...) {
      stop();
      for (std::thread& worker : workers) worker.join();
      throw;
    }
    for (std::thread& worker : workers) worker.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  struct Slot {
    std::vector<uint8_t> bytes;
    bool ready = false;
  };

  void stop() {
    {
      std::lock_guard lock(mutex_);
      failed_ = true;
    }
    changed_.notify_all();
  }

  void work() {
    std::vector<float> scratch;
    std::vector<uint8_t> buffer;
    for (;;) {
      size_t index = 0;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] {
          return failed_ || nextToClaim_ >= chunks_.size() || nextToClaim_ < nextToWrite_ + slots_.size();
        });
        if (failed_ || nextToClaim_ >= chunks_.size()) return;
        index = nextToClaim_++;
      }
      try {
        const Chunk& chunk = chunks_[index];
        fillChunk(spec_.tensors[chunk.tensor], spec_.seed, chunk, scratch, buffer);
      } catch (...) {
        {
          std::lock_guard lock(mutex_);
          if (!error_) error_ = std::current_exception();
        }
        stop();
        return;
      }
      {
        std::lock_guard lock(mutex_);
        Slot& slot = slots_[index % slots_.size()];
        slot.bytes.swap(buffer);
        slot.ready = true;
      }
      changed_.notify_all();
    }
  }

  void drain(const Sink& sink) {
    for (size_t index = 0; index < chunks_.size(); ++index) {
      Slot& slot = slots_[index % slots_.size()];
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return failed_ || slot.ready; });
        if (failed_) return;
      }
      // No worker touches this slot until nextToWrite_ passes index.
      sink(slot.bytes);
      {
        std::lock_guard lock(mutex_);
        slot.ready = false;
        ++nextToWrite_;
      }
      changed_.notify_all();
    }
  }

  const SynthSpec& spec_;
  const std::vector<Chunk> chunks_;
  const unsigned workerCount_;
  std::vector<Slot> slots_;
  std::mutex mutex_;
  std::condition_variable changed_;
  size_t nextToClaim_ = 0;
  size_t nextToWrite_ = 0;
  bool failed_ = false;
  std::exception_ptr error_;
};

}  // namespace

namespace {

/// Declares the metadata and tensors of `spec` to `writer` (`sinkName` names the file in
/// messages); returns the elements of the random tensors.
uint64_t declareSpec(const SynthSpec& spec, GgufWriter& writer, const std::string& sinkName) {
  if (!spec.arch.empty() && !spec.metadata.contains(kGgufArchitectureKey)) {
    writer.setMetadata(std::string(kGgufArchitectureKey), spec.arch);
  }
  writer.setMetadata(spec.metadata);
  uint64_t elements = 0;
  for (const SynthTensor& tensor : spec.tensors) {
    if (!std::isfinite(tensor.scale) || !std::isfinite(tensor.mean) || tensor.scale < 0) {
      failPlain("{}: tensor {}: scale {} and mean {} must be finite, the scale not negative", sinkName,
                quoteForMessage(tensor.name), tensor.scale, tensor.mean);
    }
    writer.addTensor({tensor.name, tensor.type, tensor.ne});
    elements +=
        static_cast<uint64_t>(std::accumulate(tensor.ne.begin(), tensor.ne.end(), int64_t{1}, std::multiplies<>()));
  }
  for (const GgufTensorBlob& tensor : spec.fixedTensors) {
    if (writer.addTensor(tensor.decl) != tensor.data.size()) {
      failPlain("{}: tensor {}: {} bytes of data given, {} expected", sinkName, quoteForMessage(tensor.decl.name),
                tensor.data.size(), *ggufTensorBytes(tensor.decl.type, tensor.decl.ne));
    }
  }
  return elements;
}

}  // namespace

uint64_t syntheticGgufBytes(const SynthSpec& spec) {
  std::ostringstream header(std::ios::binary);  // the header only: no tensor data is written
  GgufWriter writer(header, "<synthetic>");
  declareSpec(spec, writer, "<synthetic>");
  writer.writeHeader();
  return writer.plannedFileBytes();
}

SynthReport writeSyntheticGguf(const SynthSpec& spec, const std::filesystem::path& path) {
  const auto start = std::chrono::steady_clock::now();
  GgufWriter writer(path);
  SynthReport report;
  report.elements = declareSpec(spec, writer, path.string());
  writer.writeHeader();
  ChunkPipeline pipeline(spec, planChunks(spec.tensors));
  pipeline.run([&](std::span<const uint8_t> bytes) { writer.writeTensorData(bytes); });
  for (const GgufTensorBlob& tensor : spec.fixedTensors) writer.writeTensorData(tensor.data);
  writer.finish();
  report.fileBytes = writer.bytesWritten();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace reel

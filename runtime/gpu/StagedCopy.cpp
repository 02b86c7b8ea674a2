#include "runtime/gpu/StagedCopy.h"

#include "runtime/gpu/CudaCheck.h"

namespace reel::gpu {

StagedCopy::StagedCopy(cudaStream_t stream, size_t chunkBytes)
    : stream_(stream), chunkBytes_(chunkBytes), buffers_{PinnedBuffer(chunkBytes), PinnedBuffer(chunkBytes)} {
  for (cudaEvent_t& event : copied_) {
    checkCuda(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "creating a staging event");
    checkCuda(cudaEventRecord(event, stream_), "recording a staging event");
  }
}

StagedCopy::~StagedCopy() {
  (void)cudaStreamSynchronize(stream_);
  for (cudaEvent_t event : copied_) (void)cudaEventDestroy(event);
}

uint8_t* StagedCopy::acquire() {
  current_ ^= 1;
  checkCuda(cudaEventSynchronize(copied_[current_]), "waiting for a weight copy");
  return buffers_[current_].as<uint8_t>();
}

void StagedCopy::submit(void* dst, size_t bytes) {
  checkCuda(cudaMemcpyAsync(dst, buffers_[current_].as<uint8_t>(), bytes, cudaMemcpyHostToDevice, stream_),
            "copying weights to the GPU");
  checkCuda(cudaEventRecord(copied_[current_], stream_), "recording a staging event");
}

void StagedCopy::finish() {
  checkCuda(cudaStreamSynchronize(stream_), "finishing the weight upload");
}

}  // namespace reel::gpu

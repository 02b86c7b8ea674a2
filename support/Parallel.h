#pragma once
/// \file
/// A minimal parallel loop (the CPU reference's matmuls, the host side of weight upload): splits [0, count) into
/// contiguous ranges, one per thread, and runs them on short-lived threads (the calling thread takes the first). Small
/// loops run inline: spawning costs more than it saves.

#include <cstdint>
#include <functional>

namespace reel::support {

/// Calls body(begin, end) over disjoint ranges covering [0, count). Uses up to `threads`
/// threads when `work` (a rough operation count) is large enough to pay for them.
/// An exception thrown by any range is rethrown on the calling thread.
void parallelFor(int64_t count, unsigned threads, int64_t work, const std::function<void(int64_t, int64_t)>& body);

}  // namespace reel::support

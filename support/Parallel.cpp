#include "support/Parallel.h"

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace reel::support {

namespace {

/// Below this many operations a loop runs on the calling thread.
constexpr int64_t kMinParallelWork = int64_t{1} << 18;

}  // namespace

void parallelFor(int64_t count, unsigned threads, int64_t work, const std::function<void(int64_t, int64_t)>& body) {
  const int64_t parts = std::min<int64_t>(std::max(1u, threads), count);
  if (parts <= 1 || work < kMinParallelWork) {
    if (count > 0) body(0, count);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(parts));
  auto runPart = [&](int64_t part) {
    try {
      body(count * part / parts, count * (part + 1) / parts);
    } catch (...) {
      errors[static_cast<size_t>(part)] = std::current_exception();
    }
  };
  // Parts whose thread cannot be created (the system's thread limit) run on this thread.
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(parts - 1));
  std::vector<int64_t> inlineParts{0};
  inlineParts.reserve(static_cast<size_t>(parts));
  for (int64_t part = 1; part < parts; ++part) {
    try {
      workers.emplace_back(runPart, part);
    } catch (const std::system_error&) {  // includes the allocation of its stack
      inlineParts.push_back(part);
    }
  }
  for (int64_t part : inlineParts) runPart(part);
  for (std::thread& worker : workers) worker.join();
  for (const std::exception_ptr& error : errors)
    if (error) std::rethrow_exception(error);
}

}  // namespace reel::support

#pragma once
/// \file
/// What the host machine offers, for the checks that size memory before allocating it.

#include <unistd.h>

#include <cstdint>

namespace reel::support {

/// The machine's physical memory in bytes (0 where the system does not say).
inline uint64_t physicalMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long pageSize = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || pageSize <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize);
}

}  // namespace reel::support

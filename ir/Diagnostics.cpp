#include "ir/Diagnostics.h"

namespace reel {

std::string SourceLoc::str() const {
  if (line == 0) return file;
  if (col == 0) return fmt::format("{}:{}", file, line);
  return fmt::format("{}:{}:{}", file, line, col);
}

}  // namespace reel

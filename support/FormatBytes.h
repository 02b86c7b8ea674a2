#pragma once
/// \file
/// Byte counts for messages and reports, in the two conventions reel quotes them in.

#include <string>

namespace reel::support {

/// Decimal units, as file and weight sizes are quoted: "310.5 MB", "4.92 GB", "12 B".
std::string formatBytes(double bytes);

/// Binary units, as device memory is allocated and reported: "8.4 MiB", "1.00 GiB".
std::string formatBinaryBytes(double bytes);

}  // namespace reel::support

// Byte counts as people write them: "16GiB", "512MiB", "1.5G" on the command line, "1.50 GiB" in
// messages and progress lines.
#pragma once

#include <cstdint>
#include <string>

namespace revunet::core {

// "1GiB", "512MiB", "1.5G", "123456" -> bytes (KiB/MiB/GiB/TiB and K/M/G/T are powers of 1024,
// KB/MB/GB/TB powers of 1000). Throws revunet::Error naming `what` (the flag) otherwise.
int64_t parse_bytes(const std::string& text, const std::string& what);

// "812 B", "812.00 KiB", "1.50 GiB"; "?" for a negative count.
std::string format_bytes(int64_t bytes);
// The same for an estimate that may not fit in an int64 ("3.2e+06 TiB" stays readable).
std::string format_bytes(double bytes);

}  // namespace revunet::core

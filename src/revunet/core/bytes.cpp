#include "revunet/core/bytes.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "revunet/core/error.h"

namespace revunet::core {

int64_t parse_bytes(const std::string& text, const std::string& what) {
  size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    fail(what + " " + text, "expected a size such as 512MiB, 16GiB or a byte count");
  }
  static const std::pair<const char*, double> kUnits[] = {{"", 1},
                                                          {"B", 1},
                                                          {"K", 1024.0},
                                                          {"k", 1024.0},
                                                          {"KiB", 1024.0},
                                                          {"M", 1048576.0},
                                                          {"MiB", 1048576.0},
                                                          {"G", 1073741824.0},
                                                          {"GiB", 1073741824.0},
                                                          {"T", 1099511627776.0},
                                                          {"TiB", 1099511627776.0},
                                                          {"KB", 1e3},
                                                          {"MB", 1e6},
                                                          {"GB", 1e9},
                                                          {"TB", 1e12}};
  const std::string unit = text.substr(used);
  double scale = 0;
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) scale = factor;
  }
  if (scale == 0)
    fail(what + " " + text, "unknown unit '" + unit + "'; use B, KiB, MiB, GiB or TiB");
  if (!(number > 0) || !std::isfinite(number)) fail(what + " " + text, "must be positive");
  const double bytes = number * scale;
  if (bytes >= 9.2e18) fail(what + " " + text, "is too large");
  return static_cast<int64_t>(bytes);
}

std::string format_bytes(double bytes) {
  if (!(bytes >= 0)) return "?";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = bytes;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : (v < 1e6 ? "%.2f %s" : "%.3g %s"), v,
                units[u]);
  return buf;
}

std::string format_bytes(int64_t bytes) {
  return bytes < 0 ? "?" : format_bytes(static_cast<double>(bytes));
}

}  // namespace revunet::core

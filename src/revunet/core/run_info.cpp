#include "revunet/core/run_info.h"

#include <torch/version.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "revunet/core/build_info.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"

namespace revunet::core {
namespace {

std::string& stored_command_line() {
  static std::string line;
  return line;
}

std::string git_revision() {
  // A copy of the sources without .git (e.g. on a GPU machine) names its revision explicitly.
  if (const char* env = std::getenv("REVUNET_GIT_REVISION"); env && *env) return env;
  const std::string cmd =
      "git -C '" + std::string(REVUNET_SOURCE_DIR) + "' rev-parse --short=12 HEAD 2>/dev/null";
  std::string out;
  if (FILE* pipe = popen(cmd.c_str(), "r")) {
    std::array<char, 64> buf{};
    while (fgets(buf.data(), buf.size(), pipe)) out += buf.data();
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::array<char, 32> buf{};
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

}  // namespace

void set_command_line(int argc, const char* const* argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i) line += ' ';
    line += argv[i];
  }
  stored_command_line() = line;
}

std::string command_line() {
  return stored_command_line();
}

nlohmann::json run_info(c10::Device device) {
  return {{"command", command_line()},
          {"device", describe_device(device)},
          {"device_type", device.is_cuda() ? "cuda" : "cpu"},
          {"libtorch", TORCH_VERSION},
          {"revunet", REVUNET_VERSION},
          {"git_revision", git_revision()},
          {"created", utc_now()}};
}

}  // namespace revunet::core

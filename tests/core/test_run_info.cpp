#include "revunet/core/run_info.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace revunet::core {
namespace {

TEST(RunInfo, RecordsCommandDeviceLibtorchAndRevision) {
  const char* argv[] = {"revunet", "bench", "stack"};
  set_command_line(3, argv);
  auto info = run_info(c10::kCPU);
  EXPECT_EQ(info["command"], "revunet bench stack");
  EXPECT_EQ(info["device_type"], "cpu");
  EXPECT_FALSE(info["libtorch"].get<std::string>().empty());
  EXPECT_FALSE(info["git_revision"].get<std::string>().empty());
}

TEST(RunInfo, ACopyWithoutGitNamesItsRevisionThroughTheEnvironment) {
  ::setenv("REVUNET_GIT_REVISION", "abc123def456", 1);
  const auto info = run_info(c10::kCPU);
  ::unsetenv("REVUNET_GIT_REVISION");
  EXPECT_EQ(info["git_revision"], "abc123def456");
}

}  // namespace
}  // namespace revunet::core

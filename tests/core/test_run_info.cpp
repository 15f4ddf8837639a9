#include "revunet/core/run_info.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "revunet/core/error.h"

namespace revunet::core {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("revunet_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(RunInfo, RecordsCommandDeviceLibtorchAndRevision) {
  const char* argv[] = {"revunet", "bench", "stack"};
  set_command_line(3, argv);
  auto info = run_info(c10::kCPU);
  EXPECT_EQ(info["command"], "revunet bench stack");
  EXPECT_EQ(info["device_type"], "cpu");
  EXPECT_FALSE(info["libtorch"].get<std::string>().empty());
  EXPECT_FALSE(info["git_revision"].get<std::string>().empty());
}

TEST(WriteJsonAtomically, WritesTheValueAndLeavesNoTemporaryFile) {
  auto dir = scratch_dir("json");
  write_json_atomically((dir / "sub" / "r.json").string(), {{"a", 1}});
  std::ifstream in(dir / "sub" / "r.json");
  EXPECT_EQ(nlohmann::json::parse(in)["a"], 1);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir / "sub")) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);
  fs::remove_all(dir);
}

TEST(WriteFileAtomically, KeepsThePreviousFileWhenTheTargetCannotBeReplaced) {
  auto dir = scratch_dir("atomic");
  const auto target = dir / "keep.txt";
  write_file_atomically(target.string(), "old");
  fs::create_directories(dir / "blocked");  // a directory cannot be replaced by a file
  EXPECT_THROW(write_file_atomically((dir / "blocked").string(), "new"), Error);
  std::ifstream in(target);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "old");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace revunet::core

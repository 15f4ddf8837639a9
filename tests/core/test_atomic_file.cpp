#include "revunet/core/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "revunet/core/error.h"

namespace revunet::core {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir(const std::string& name) {
  auto dir =
      fs::temp_directory_path() / ("revunet_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int regular_files(const fs::path& dir) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  return files;
}

TEST(WriteJsonAtomically, WritesTheValueAndLeavesNoTemporaryFile) {
  auto dir = scratch_dir("json");
  write_json_atomically((dir / "sub" / "r.json").string(), {{"a", 1}});
  std::ifstream in(dir / "sub" / "r.json");
  EXPECT_EQ(nlohmann::json::parse(in)["a"], 1);
  EXPECT_EQ(regular_files(dir / "sub"), 1);
  fs::remove_all(dir);
}

TEST(WriteFileAtomically, KeepsThePreviousFileWhenTheTargetCannotBeReplaced) {
  auto dir = scratch_dir("atomic");
  const auto target = dir / "keep.txt";
  write_file_atomically(target.string(), "old");
  fs::create_directories(dir / "blocked");  // a directory cannot be replaced by a file
  try {
    write_file_atomically((dir / "blocked").string(), "new");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blocked"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_all(target), "old");
  EXPECT_EQ(regular_files(dir), 1);  // no temporary left behind
  fs::remove_all(dir);
}

TEST(WriteAtomically, AWriterThatThrowsLeavesThePreviousFileAndNoTemporary) {
  auto dir = scratch_dir("throwing");
  const auto target = dir / "data.bin";
  write_file_atomically(target.string(), "previous");
  EXPECT_THROW(write_atomically(target.string(),
                                [](std::ostream& out) {
                                  out << "half of it";
                                  throw std::runtime_error("source went away");
                                }),
               std::runtime_error);
  EXPECT_EQ(read_all(target), "previous");
  EXPECT_EQ(regular_files(dir), 1);
  fs::remove_all(dir);
}

TEST(WriteAtomically, ConcurrentWritersOfOneFileLeaveOneWholeVersion) {
  auto dir = scratch_dir("concurrent");
  const auto target = dir / "shared.txt";
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&target, t] {
      const std::string body(100000, static_cast<char>('a' + t));
      for (int i = 0; i < 20; ++i) write_file_atomically(target.string(), body);
    });
  }
  for (auto& w : writers) w.join();
  const std::string text = read_all(target);
  ASSERT_EQ(text.size(), 100000u);
  EXPECT_EQ(text.find_first_not_of(text[0]), std::string::npos) << "mixed versions";
  EXPECT_EQ(regular_files(dir), 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace revunet::core

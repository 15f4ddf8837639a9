#include "revunet/core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
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

// The id of a process that has exited (forked, reaped): no process has it until it is reused.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

TEST(RemoveStaleTemporaries, RemovesOnlyDeadProcessesTemporariesOfOurOwnFiles) {
  auto dir = scratch_dir("stale");
  const std::string dead = std::to_string(dead_pid());
  const std::string live = std::to_string(::getpid());
  const std::vector<std::string> stale = {"last.pt.tmp." + dead + ".123",
                                          "case.nii.gz.tmp." + dead + ".99"};
  const std::vector<std::string> kept = {
      "last.pt.tmp." + live + ".123",  // this process is alive
      "notes.txt.tmp." + dead + ".1",  // not one of our names
      "last.pt.tmp.x" + dead + ".1",   // not the pattern
      "last.pt.tmp." + dead,           // no thread id
      "last.pt",                       // the file itself
  };
  for (const auto& name : stale) write_file_atomically((dir / name).string(), "partial");
  for (const auto& name : kept) write_file_atomically((dir / name).string(), "keep");
  const auto ours = [](const std::string& name) {
    return name == "last.pt" || name == "case.nii.gz";
  };
  EXPECT_EQ(remove_stale_temporaries(dir.string(), ours), 2);
  for (const auto& name : stale) EXPECT_FALSE(fs::exists(dir / name)) << name;
  for (const auto& name : kept) EXPECT_TRUE(fs::exists(dir / name)) << name;
  EXPECT_EQ(remove_stale_temporaries((dir / "missing").string(), ours), 0);
  fs::remove_all(dir);
}

TEST(WriteViaTemporary, AFailedWriteLeavesNeitherTheTemporaryNorTheTarget) {
  auto dir = scratch_dir("via");
  const auto target = dir / "out.bin";
  EXPECT_THROW(write_via_temporary(target.string(),
                                   [&](const std::string& tmp) {
                                     std::ofstream(tmp) << "half";
                                     throw Error("verify failed");
                                   }),
               Error);
  EXPECT_FALSE(fs::exists(target));
  EXPECT_EQ(regular_files(dir), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace revunet::core

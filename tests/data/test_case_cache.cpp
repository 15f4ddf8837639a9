#include "revunet/data/case_cache.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace revunet::data {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class CaseCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("revunet_case_cache_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static PreprocessedCase make_case(const std::string& id, bool with_regions = true,
                                    std::vector<int64_t> shape = {5, 6, 7}) {
    torch::manual_seed(7);
    PreprocessedCase c;
    c.id = id;
    c.image = torch::randn({4, shape[0], shape[1], shape[2]});
    if (with_regions) {
      c.regions = torch::randint(0, 2, {3, shape[0], shape[1], shape[2]}, torch::kUInt8);
    }
    c.box = CropBox{{1, 2, 3}, {6, 8, 10}};
    c.original_shape = {9, 10, 11};
    c.spacing = {1.0, 0.9375, 2.5};
    return c;
  }

  static void expect_same(const PreprocessedCase& a, const PreprocessedCase& b) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.box, b.box);
    EXPECT_EQ(a.original_shape, b.original_shape);
    EXPECT_EQ(a.spacing, b.spacing);
    ASSERT_EQ(a.image.scalar_type(), b.image.scalar_type());
    EXPECT_TRUE(torch::equal(a.image, b.image));  // bit-exact
    ASSERT_EQ(a.regions.defined(), b.regions.defined());
    if (a.regions.defined()) {
      EXPECT_EQ(a.regions.scalar_type(), b.regions.scalar_type());
      EXPECT_TRUE(torch::equal(a.regions, b.regions));
    }
  }

  static std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void write_bytes(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  fs::path dir_;
};

TEST_F(CaseCacheTest, RoundTripIsBitExactWithAndWithoutRegions) {
  for (bool with_regions : {true, false}) {
    const PreprocessedCase c = make_case("BraTS-GLI-00001-000", with_regions);
    const std::string path = (dir_ / "case.rvcase").string();
    save_cached_case(path, c, "key-1");
    std::string why;
    const auto loaded = load_cached_case(path, "key-1", &why);
    ASSERT_TRUE(loaded.has_value()) << why;
    expect_same(c, *loaded);
  }
  // Nothing but the case file is left behind (the temporary was renamed).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(CaseCacheTest, EveryCorruptByteIsDetected) {
  const std::string path = (dir_ / "case.rvcase").string();
  // A tiny case keeps this to a few hundred write/read round trips.
  save_cached_case(path, make_case("x", true, {2, 2, 3}), "key");
  const std::string good = read_bytes(path);
  ASSERT_LT(good.size(), 500u);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    write_bytes(path, bad);
    std::string why;
    EXPECT_FALSE(load_cached_case(path, "key", &why).has_value()) << "byte " << i;
    EXPECT_FALSE(why.empty());
  }
}

TEST_F(CaseCacheTest, TruncatedFilesAreRejectedAtAnyLength) {
  const std::string path = (dir_ / "case.rvcase").string();
  save_cached_case(path, make_case("x"), "key");
  const std::string good = read_bytes(path);
  for (size_t n :
       {size_t{0}, size_t{5}, size_t{23}, size_t{60}, good.size() / 2, good.size() - 1}) {
    write_bytes(path, good.substr(0, n));
    std::string why;
    EXPECT_FALSE(load_cached_case(path, "key", &why).has_value()) << n << " bytes";
    EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  }
  write_bytes(path, good + "x");
  EXPECT_FALSE(load_cached_case(path, "key").has_value());
}

TEST_F(CaseCacheTest, MissingFileAndKeyMismatchAreReported) {
  const std::string path = (dir_ / "case.rvcase").string();
  std::string why;
  EXPECT_FALSE(load_cached_case(path, "key", &why).has_value());
  EXPECT_NE(why.find("missing"), std::string::npos) << why;
  save_cached_case(path, make_case("x"), "size=10 mtime=1");
  EXPECT_FALSE(load_cached_case(path, "size=10 mtime=2", &why).has_value());
  EXPECT_NE(why.find("stale"), std::string::npos) << why;
}

TEST_F(CaseCacheTest, GetOrBuildBuildsOnceThenReadsTheFile) {
  std::vector<std::string> warnings;
  const CaseCache cache(dir_.string(), [&](const std::string& w) { warnings.push_back(w); });
  int builds = 0;
  auto build = [&] {
    ++builds;
    return make_case("BraTS2021_00000");
  };
  const PreprocessedCase first = cache.get_or_build("BraTS2021_00000", "k", build);
  const PreprocessedCase second = cache.get_or_build("BraTS2021_00000", "k", build);
  EXPECT_EQ(builds, 1);
  expect_same(first, second);
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(fs::exists(cache.path_for("BraTS2021_00000")));
}

TEST_F(CaseCacheTest, CorruptTruncatedOrStaleFilesAreRebuiltWithAWarningNamingTheFile) {
  std::vector<std::string> warnings;
  const CaseCache cache(dir_.string(), [&](const std::string& w) { warnings.push_back(w); });
  int builds = 0;
  auto build = [&] {
    ++builds;
    return make_case("c");
  };
  const std::string path = cache.path_for("c");
  cache.get_or_build("c", "k", build);
  const std::string good = read_bytes(path);

  std::string corrupt = good;
  corrupt[good.size() / 2] = static_cast<char>(corrupt[good.size() / 2] ^ 1);
  write_bytes(path, corrupt);
  expect_same(cache.get_or_build("c", "k", build), make_case("c"));
  EXPECT_EQ(builds, 2);
  EXPECT_EQ(read_bytes(path), good);  // rewritten whole

  write_bytes(path, good.substr(0, good.size() - 10));
  cache.get_or_build("c", "k", build);
  EXPECT_EQ(builds, 3);

  cache.get_or_build("c", "other key", build);
  EXPECT_EQ(builds, 4);
  cache.get_or_build("c", "other key", build);
  EXPECT_EQ(builds, 4);

  ASSERT_EQ(warnings.size(), 3u);
  for (const auto& w : warnings) {
    EXPECT_NE(w.find(path), std::string::npos) << w;
    EXPECT_EQ(w.find('\n'), std::string::npos) << w;
  }
  EXPECT_NE(warnings[0].find("checksum"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("truncated"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[2].find("stale"), std::string::npos) << warnings[2];
}

TEST_F(CaseCacheTest, IdsWithUnsafeCharactersGetDistinctFilesInsideTheFolder) {
  const CaseCache cache(dir_.string());
  const std::string a = cache.path_for("../a/b"), b = cache.path_for("__a_b"),
                    c = cache.path_for(".._a_b");
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(fs::path(a).parent_path(), dir_);
  EXPECT_EQ(fs::path(c).parent_path(), dir_);
  EXPECT_EQ(cache.path_for("BraTS-GLI-00001-000"), (dir_ / "BraTS-GLI-00001-000.rvcase").string());
}

}  // namespace
}  // namespace revunet::data

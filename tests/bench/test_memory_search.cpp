// revunet memory: the search is repeatable, honest about the budget, and reversible fits at least
// what plain does; user errors name what is wrong.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "revunet/bench/memory_report.h"
#include "revunet/bench/memory_search.h"
#include "revunet/core/error.h"

namespace revunet::bench {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

nn::UNetConfig tiny_config() {
  nn::UNetConfig c;
  c.levels = 2;
  c.widths = {8, 16};
  c.encoder_couplings = {1, 1};
  c.decoder_couplings = {1};
  c.expansion = 2;
  c.groups = 4;
  c.patch = {16, 16, 16};
  return c;
}

MemoryOptions tiny_options() {
  MemoryOptions o;
  o.config_path = "test";
  o.probe.budget_bytes = 24 * kMiB;
  o.modes = {rev::StackMode::kReversible, rev::StackMode::kPlain};
  o.max_edge = 64;
  o.fixed_edge = 16;
  o.max_couplings = 4;
  o.width = false;
  o.time_limit = 1e6;  // no time cap: the answer must not depend on the machine's speed
  return o;
}

TEST(MemorySearch, RepeatableWithinBudgetAndReversibleFitsMore) {
  torch::set_num_threads(1);
  const auto t0 = std::chrono::steady_clock::now();
  const auto first = run_memory_search(tiny_config(), tiny_options());
  const auto second = run_memory_search(tiny_config(), tiny_options());
  ASSERT_EQ(first["modes"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(first["modes"][i]["max_cube"], second["modes"][i]["max_cube"]);
    EXPECT_EQ(first["modes"][i]["max_couplings"], second["modes"][i]["max_couplings"]);
    for (const char* search : {"cube_search", "couplings_search"}) {
      for (const auto& p : first["modes"][i][search]["probes"]) {
        if (p["fits"].get<bool>()) {
          EXPECT_LE(p["peak_bytes"].get<int64_t>(), 24 * kMiB) << p.dump();
        }
        EXPECT_GT(p["activation_bytes"].get<int64_t>(), 0) << p.dump();
      }
    }
  }
  const auto& rev = first["modes"][0];
  const auto& plain = first["modes"][1];
  EXPECT_EQ(rev["mode"], "reversible");
  EXPECT_GT(plain["max_cube"].get<int64_t>(), 0);
  EXPECT_GE(rev["max_cube"].get<int64_t>(), plain["max_cube"].get<int64_t>());
  EXPECT_GE(rev["max_couplings"].get<int64_t>(), plain["max_couplings"].get<int64_t>());
  EXPECT_EQ(rev["max_cube"].get<int64_t>() % 2, 0);
  EXPECT_FALSE(memory_table(first).empty());
  std::cerr << memory_table(first) << "took "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
            << " s\n";
}

TEST(MemorySearch, FindsTheBoundaryOfAKnownCurve) {
  // peak = 100 + 10 k against a budget of 1000: k = 90 is the answer.
  SearchLimits lim;
  lim.budget_bytes = 1000;
  lim.k_max = 1000;
  auto probe = [&](int64_t k) {
    ProbeResult r;
    r.peak_bytes = 100 + 10 * k;
    r.fits = r.peak_bytes <= lim.budget_bytes;
    return r;
  };
  const auto x = [](int64_t k) { return double(k); };
  const auto s = search_largest(lim, x, probe);
  EXPECT_EQ(s.best_k, 90);
  EXPECT_TRUE(s.bracketed);
  EXPECT_LT(s.probes.size(), 15u);

  // A cap below the answer: the measured answer stays below the cap, the rest is extrapolated.
  lim.k_max = 40;
  const auto capped = search_largest(lim, x, probe);
  EXPECT_EQ(capped.best_k, 40);
  EXPECT_FALSE(capped.bracketed);
  EXPECT_FALSE(capped.capped.empty());
  EXPECT_EQ(capped.extrapolated_k, 90);
}

TEST(MemorySearch, BadConfigFieldIsNamed) {
  const auto path = std::filesystem::temp_directory_path() / "revunet_memory_bad_config.json";
  std::ofstream(path) << R"({"levels": 3, "base_width": 8, "expansoin": 2})";
  MemoryOptions o = tiny_options();
  o.config_path = path.string();
  try {
    run_memory(o);
    FAIL() << "expected revunet::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expansoin"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(MemorySearch, ShapesAndWidths) {
  EXPECT_EQ(brats_crop(8, 8), (Shape3{240, 240, 160}));
  EXPECT_EQ(brats_crop(4, 16), (Shape3{128, 128, 80}));
  const auto wide = with_base_width(tiny_config(), 32);
  EXPECT_EQ(wide.widths, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(with_couplings(tiny_config(), 3).decoder_couplings, (std::vector<int64_t>{3}));
}

}  // namespace
}  // namespace revunet::bench

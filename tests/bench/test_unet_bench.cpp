// revunet bench unet: one timed row per mode and edge, peaks that order as the modes promise,
// ratios against plain, and a clear error for an edge the network cannot take.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "revunet/bench/unet_bench.h"
#include "revunet/core/error.h"

namespace revunet::bench {
namespace {

nn::UNetConfig small_config() {
  nn::UNetConfig c;
  c.levels = 2;
  c.widths = {8, 16};
  c.encoder_couplings = {3, 3};
  c.decoder_couplings = {3};
  c.expansion = 4;
  c.groups = 4;
  c.patch = {16, 16, 16};
  return c;
}

TEST(UNetBench, OneTimedRowPerModeWithRatiosAgainstPlain) {
  torch::set_num_threads(1);
  UNetBenchOptions o;
  o.edges = {16};
  o.warmup = 1;
  o.repeats = 2;
  const nlohmann::json r = run_unet_bench(small_config(), o);
  ASSERT_EQ(r["rows"].size(), 3u);
  std::map<std::string, nlohmann::json> rows;
  for (const auto& row : r["rows"]) {
    EXPECT_TRUE(row["fits"].get<bool>()) << row.dump();
    EXPECT_GT(row["step_seconds"].get<double>(), 0) << row.dump();
    EXPECT_LE(row["step_seconds_min"].get<double>(), row["step_seconds"].get<double>());
    rows[row["mode"].get<std::string>()] = row;
  }
  const int64_t plain = rows.at("plain")["peak_bytes"].get<int64_t>();
  const int64_t checkpoint = rows.at("checkpoint")["peak_bytes"].get<int64_t>();
  const int64_t reversible = rows.at("reversible")["peak_bytes"].get<int64_t>();
  EXPECT_LT(reversible, checkpoint);
  EXPECT_LT(checkpoint, plain);
  ASSERT_EQ(r["ratios"].size(), 1u);
  EXPECT_NEAR(r["ratios"][0]["reversible_over_plain_peak"].get<double>(),
              static_cast<double>(reversible) / plain, 1e-12);
  EXPECT_GT(r["ratios"][0]["reversible_over_plain_time"].get<double>(), 0);
  EXPECT_EQ(r["dtype"], "fp32");
  EXPECT_TRUE(r.contains("git_revision"));
}

TEST(UNetBench, AnEdgeTheNetworkCannotTakeIsAnError) {
  UNetBenchOptions o;
  o.edges = {15};
  try {
    run_unet_bench(small_config(), o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace revunet::bench

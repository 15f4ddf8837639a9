// The stage planner: the exact solver on a known cost model, then real probes of a small U-Net on
// the CPU tracking allocator with an injected cost model (never seconds): budgets above all
// plain, between all reversible and all plain, and below anything that fits; the run-folder
// cache; and the same outputs and gradients whatever the plan.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "revunet/bench/memory_report.h"
#include "revunet/bench/stage_planner.h"
#include "revunet/core/error.h"
#include "revunet/core/memory.h"
#include "revunet/nn/unet.h"

namespace revunet::bench {
namespace {

using rev::StackMode;
constexpr StackMode P = StackMode::kPlain, C = StackMode::kCheckpoint, R = StackMode::kReversible;

// Two stages; plain is fastest and biggest, reversible slowest and smallest.
StageCostModel two_stage_model() {
  StageCostModel m;
  m.base_peak_bytes = 1000;
  m.base_seconds = 10;
  m.peak_delta = {{400, 100, 0}, {40, 10, 0}};
  m.seconds_delta = {{-3, -1, 0}, {-2, -0.5, 0}};
  return m;
}

TEST(StageCostModel, PredictsSumsOfStageDeltas) {
  const StageCostModel m = two_stage_model();
  EXPECT_EQ(m.predict_peak({P, C}), 1410);
  EXPECT_DOUBLE_EQ(m.predict_seconds({P, C}), 6.5);
  EXPECT_EQ(m.predict_peak({R, R}), 1000);
}

TEST(StageCostModel, FastestFittingPlansAreExactAndOrdered) {
  const StageCostModel m = two_stage_model();
  EXPECT_EQ(fastest_fitting_plans(m, 1440, 1).at(0), (StagePlan{P, P}));
  // 1200: enc0 plain (+400) no longer fits; the fastest is checkpoint there, plain for the other.
  const auto plans = fastest_fitting_plans(m, 1200, 100);
  ASSERT_EQ(plans.front(), (StagePlan{C, P}));
  for (size_t i = 0; i < plans.size(); ++i) {
    EXPECT_LE(m.predict_peak(plans[i]), 1200);
    if (i) EXPECT_LE(m.predict_seconds(plans[i - 1]), m.predict_seconds(plans[i]));
  }
  EXPECT_EQ(plans.size(), 6u);  // every plan without enc0 plain
  EXPECT_TRUE(fastest_fitting_plans(m, 999, 10).empty());
  EXPECT_EQ(least_peak_plan(m), (StagePlan{R, R}));
}

TEST(StageCostModel, UnavailableModesAreNeverPlanned) {
  StageCostModel m = two_stage_model();
  m.unavailable = {{true, false, false}, {false, false, false}};
  EXPECT_EQ(fastest_fitting_plans(m, 1 << 20, 1).at(0), (StagePlan{C, P}));
}

TEST(StagePlan, WithPlanSetsTheCommonModeAndOverrides) {
  nn::UNetConfig c;
  c.levels = 2;
  c.widths = {8, 16};
  c.encoder_couplings = {1, 1};
  c.decoder_couplings = {1};
  const nn::UNetConfig planned = with_plan(c, {P, R, P});  // enc0, enc1, dec0
  EXPECT_EQ(planned.mode, P);
  ASSERT_EQ(planned.stage_modes.size(), 1u);
  EXPECT_EQ(planned.stage_modes.at("enc1"), R);
  const nlohmann::json plan = {
      {"fits", true}, {"modes", {{"enc0", "plain"}, {"enc1", "reversible"}, {"dec0", "plain"}}}};
  EXPECT_EQ(plan_modes(plan, c, "p.json"), (StagePlan{P, R, P}));
  EXPECT_THROW(plan_modes({{"fits", false}}, c, "p.json"), Error);
}

// A 2-level U-Net with 2 couplings per stage at 16^3: 3 stages, 8 probes per plan.
nn::UNetConfig planner_config() {
  nn::UNetConfig c;
  c.levels = 2;
  c.widths = {8, 16};
  c.encoder_couplings = {2, 2};
  c.decoder_couplings = {2};
  c.expansion = 4;
  c.groups = 4;
  c.patch = {16, 16, 16};
  return c;
}

// A deterministic cost: per stage plain 1, checkpoint 1.3, reversible 1.5 units, weighted by the
// stage's voxels (enc0 and dec0 at full resolution, enc1 at 1/8).
double fake_cost(const StagePlan& plan, double /*measured_seconds*/) {
  const double weight[3] = {8, 1, 8};
  const double per_mode[3] = {1.0, 1.3, 1.5};
  double cost = 0;
  for (size_t i = 0; i < plan.size(); ++i) cost += weight[i] * per_mode[static_cast<int>(plan[i])];
  return cost;
}

PlanOptions planner_options(int64_t budget) {
  PlanOptions o;
  o.probe.budget_bytes = budget;
  o.shape = {16, 16, 16};
  o.warmup = 0;
  o.repeats = 1;
  o.step_cost = fake_cost;
  return o;
}

class StagePlanner : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    // A budget nothing reaches: the plan is all plain, and it carries both whole-network peaks.
    unbounded_ =
        new nlohmann::json(plan_stage_modes(planner_config(), planner_options(int64_t{1} << 40)));
  }
  static void TearDownTestSuite() { delete unbounded_; }
  static int64_t plain_peak() { return (*unbounded_)["all_plain"]["peak_bytes"].get<int64_t>(); }
  static int64_t reversible_peak() {
    return (*unbounded_)["all_reversible"]["peak_bytes"].get<int64_t>();
  }
  static nlohmann::json* unbounded_;
};
nlohmann::json* StagePlanner::unbounded_ = nullptr;

TEST_F(StagePlanner, ABudgetAboveAllPlainsPeakPlansAllPlain) {
  const nlohmann::json& j = *unbounded_;
  ASSERT_TRUE(j["fits"].get<bool>()) << j.dump();
  for (const auto& [stage, mode] : j["modes"].items()) EXPECT_EQ(mode, "plain") << stage;
  EXPECT_LT(reversible_peak(), plain_peak());
  EXPECT_EQ(j["measured"]["peak_bytes"].get<int64_t>(), plain_peak());
  // Just above all plain's measured peak is enough, whatever the additive model says.
  const nlohmann::json tight = plan_stage_modes(planner_config(), planner_options(plain_peak()));
  ASSERT_TRUE(tight["fits"].get<bool>());
  for (const auto& [stage, mode] : tight["modes"].items()) EXPECT_EQ(mode, "plain") << stage;
  EXPECT_EQ(j["stages"].size(), 3u);
  EXPECT_EQ(j["time_source"], "injected cost model");
}

TEST_F(StagePlanner, ABudgetBetweenAllReversibleAndAllPlainFitsAndIsNoSlowerThanReversible) {
  const int64_t budget = (plain_peak() + reversible_peak()) / 2;
  const nlohmann::json j = plan_stage_modes(planner_config(), planner_options(budget));
  ASSERT_TRUE(j["fits"].get<bool>()) << j.dump();
  EXPECT_LE(j["measured"]["peak_bytes"].get<int64_t>(), budget);
  // In the planner's own measured cost model the plan is no slower than all reversible ...
  EXPECT_LE(j["predicted"]["seconds"].get<double>(), j["all_reversible"]["cost"].get<double>());
  EXPECT_LE(j["measured"]["cost"].get<double>(), j["all_reversible"]["cost"].get<double>());
  // ... and, the budget being under all plain's peak, not all plain.
  bool all_plain = true;
  for (const auto& [stage, mode] : j["modes"].items()) all_plain = all_plain && mode == "plain";
  EXPECT_FALSE(all_plain);
  EXPECT_NE(plan_table(j).find("measured"), std::string::npos);
}

TEST_F(StagePlanner, BelowEveryPlanItDoesNotFitAndNamesTheSmallestBudget) {
  const nlohmann::json j =
      plan_stage_modes(planner_config(), planner_options(reversible_peak() / 2));
  ASSERT_FALSE(j["fits"].get<bool>()) << j.dump();
  const int64_t smallest = j["smallest_budget_bytes"].get<int64_t>();
  EXPECT_LE(smallest, reversible_peak());
  EXPECT_GT(smallest, reversible_peak() / 2);
  EXPECT_NE(plan_table(j).find("does not fit"), std::string::npos);
  // The budget it names does fit, and one byte less does not.
  const nlohmann::json at = plan_stage_modes(planner_config(), planner_options(smallest));
  ASSERT_TRUE(at["fits"].get<bool>()) << at.dump();
  EXPECT_LE(at["measured"]["peak_bytes"].get<int64_t>(), smallest);
  EXPECT_FALSE(
      plan_stage_modes(planner_config(), planner_options(smallest - 1))["fits"].get<bool>());
}

TEST_F(StagePlanner, ARunFolderReusesItsPlanAndReplansWhatNoLongerFits) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("revunet_plan_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "plan.json").string();
  const PlanOptions o = planner_options(plain_peak());
  std::ostringstream log;
  const nlohmann::json first = cached_or_new_plan(planner_config(), o, path, log);
  EXPECT_NE(log.str().find("measuring"), std::string::npos) << log.str();
  log.str("");
  EXPECT_EQ(cached_or_new_plan(planner_config(), o, path, log)["modes"], first["modes"]);
  EXPECT_NE(log.str().find("reusing"), std::string::npos) << log.str();
  log.str("");
  PlanOptions smaller = o;
  smaller.probe.budget_bytes = plain_peak() - 1;
  const nlohmann::json replanned = cached_or_new_plan(planner_config(), smaller, path, log);
  EXPECT_NE(log.str().find("no longer fits"), std::string::npos) << log.str();
  EXPECT_LE(replanned["measured"]["peak_bytes"].get<int64_t>(), plain_peak() - 1);
  log.str("");
  PlanOptions other_batch = smaller;
  other_batch.probe.batch = 2;
  other_batch.max_verifications = 1;
  cached_or_new_plan(planner_config(), other_batch, path, log);
  EXPECT_NE(log.str().find("another batch"), std::string::npos) << log.str();
  std::filesystem::remove_all(dir);
}

// Whatever the plan, the network computes the same function: outputs and every gradient agree
// (float64, so any difference is a bug, not rounding).
TEST(StagePlan, SameOutputsAndGradientsWhateverThePlan) {
  torch::set_num_threads(1);
  nn::UNetConfig c = planner_config();
  c.encoder_couplings = {2, 1};
  c.decoder_couplings = {2};
  const auto input = torch::randn({1, 4, 8, 8, 8}, torch::kFloat64);
  struct Result {
    torch::Tensor output, input_grad;
    std::vector<torch::Tensor> grads;
  };
  auto run = [&](const StagePlan& plan) {
    torch::manual_seed(3);
    nn::UNet model(with_plan(c, plan));
    model->to(torch::kFloat64);
    const auto x = input.clone().requires_grad_(true);
    const auto out = model->forward(x);
    (out * out).sum().backward();
    Result r{out.detach(), x.grad(), {}};
    for (const auto& p : model->parameters()) r.grads.push_back(p.grad());
    return r;
  };
  const Result reference = run({P, P, P});
  for (const StagePlan& plan :
       {StagePlan{R, R, R}, StagePlan{R, P, C}, StagePlan{C, R, P}, StagePlan{P, C, R}}) {
    const Result r = run(plan);
    EXPECT_TRUE(torch::allclose(r.output, reference.output, 1e-10, 1e-12));
    EXPECT_TRUE(torch::allclose(r.input_grad, reference.input_grad, 1e-10, 1e-12));
    ASSERT_EQ(r.grads.size(), reference.grads.size());
    for (size_t i = 0; i < r.grads.size(); ++i) {
      EXPECT_TRUE(torch::allclose(r.grads[i], reference.grads[i], 1e-9, 1e-12)) << i;
    }
  }
}

// --explain's split: the stem, down- and up-sampling are separate rows that sum to everything the
// forward stored outside the stages.
TEST(MemoryExplain, SeparatesTheStemFromDownAndUpSampling) {
  torch::set_num_threads(1);
  ProbeOptions o;
  const nlohmann::json j = explain_peak(planner_config(), R, 16, o);
  std::map<std::string, int64_t> by_kind;
  int64_t sum = 0;
  for (const auto& g : j["parts"]) {
    by_kind[g["kind"].get<std::string>()] = g["bytes"].get<int64_t>();
    sum += g["bytes"].get<int64_t>();
  }
  for (const char* kind : {"stem", "down", "up", "enc", "dec", "head"}) {
    EXPECT_TRUE(by_kind.count(kind)) << kind << " in " << j["parts"].dump();
  }
  EXPECT_GT(by_kind["stem"], 0);
  EXPECT_GT(by_kind["down"], 0);
  int64_t outside = -1;
  for (const auto& c : j["components"]) {
    if (c["component"].get<std::string>().rfind("stored outside", 0) == 0) {
      outside = c["bytes"].get<int64_t>();
    }
  }
  EXPECT_EQ(sum, outside);
  // The stem stores its conv output, norm output and activation output at full resolution with
  // base-width channels: at least three float32 tensors of 8 x 16^3.
  EXPECT_GE(by_kind["stem"], 3 * 8 * 16 * 16 * 16 * 4);
}

TEST(GroupParts, GroupsByKindInForwardOrder) {
  const nlohmann::json g = group_parts({{"stem", 10},
                                        {"enc0", 1},
                                        {"down0", 5},
                                        {"enc1", 2},
                                        {"up0", 3},
                                        {"merge0", 0},
                                        {"dec0", 4},
                                        {"deep_head1", 7},
                                        {"head", 6}});
  ASSERT_EQ(g.size(), 8u);
  EXPECT_EQ(g[0]["kind"], "stem");
  EXPECT_EQ(g[0]["bytes"], 10);
  EXPECT_EQ(g[2]["kind"], "enc");
  EXPECT_EQ(g[2]["bytes"], 3);
  EXPECT_EQ(g[6]["kind"], "deep_head");
  EXPECT_EQ(g[7]["kind"], "head");
  EXPECT_EQ(g[7]["bytes"], 6);  // "deep_head1" is not a "head"
}

}  // namespace
}  // namespace revunet::bench

// `revunet plan` and `revunet train --mode auto`: choose each stage's mode (plain, checkpoint,
// reversible) so that one training step fits a memory budget at the least step time.
//
// How (every number measured with the probe `revunet memory` uses, bench::TrainingProbe):
//   1. the baseline: every stage reversible, one step's peak and median time;
//   2. per stage and per other mode: the same with only that stage switched, giving the stage's
//      peak delta and time delta against the baseline (2 x stages probes; each timed step is
//      paired with a baseline step just before it and the delta is the median difference, so a
//      machine whose speed drifts moves both alike);
//   3. all stages plain, measured as a whole (the fastest plan, and a check of the model);
//   4. the model: a plan's peak = baseline peak + the sum of its stages' peak deltas, its time the
//      same with time deltas. Plain runs the same forward and backward as the recomputing modes
//      without the recompute, so a measured plain delta above checkpoint's or reversible's is
//      noise and is clamped to the smaller one;
//   5. every plan (3^stages; exact enumeration) predicted to fit, fastest first, is checked with a
//      real training step until one measures within the budget. A plan already measured as a
//      whole (all plain, all reversible) counts with its measured peak.
// Below every plan's measured peak the answer is "does not fit", with the smallest budget that
// does (the least measured peak: all reversible, or the model's least-peak plan, measured).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "revunet/bench/memory_probe.h"
#include "revunet/nn/unet_config.h"
#include "revunet/rev/reversible_sequence.h"

namespace revunet::bench {

// One mode per stage, in nn::stage_names order.
using StagePlan = std::vector<rev::StackMode>;

// The measured cost model (step 4 above). Indexed [stage][mode] with mode as
// static_cast<int>(rev::StackMode): plain 0, checkpoint 1, reversible 2 (the baseline: delta 0).
struct StageCostModel {
  int64_t base_peak_bytes = 0;
  double base_seconds = 0;
  std::vector<std::array<int64_t, 3>> peak_delta;
  std::vector<std::array<double, 3>> seconds_delta;
  // A (stage, mode) whose probe ran out of device memory: no plan uses it.
  std::vector<std::array<bool, 3>> unavailable;

  size_t stages() const { return peak_delta.size(); }
  int64_t predict_peak(const StagePlan& plan) const;
  double predict_seconds(const StagePlan& plan) const;
};

// Plans the model predicts to fit `budget_bytes`, fastest first (ties: fewer stages that
// recompute, then the lower peak), at most `limit`; exact over all 3^stages plans.
std::vector<StagePlan> fastest_fitting_plans(const StageCostModel& model, int64_t budget_bytes,
                                             size_t limit);
// The plan the model gives the least peak.
StagePlan least_peak_plan(const StageCostModel& model);

struct PlanOptions {
  ProbeOptions probe;  // device, bf16, seed, batch; budget_bytes is the budget to plan for (> 0)
  Shape3 shape{0, 0, 0};
  int64_t warmup = 1;             // untimed steps before each probe's timed ones
  int64_t repeats = 3;            // timed steps per probe; the median is the probe's time
  int64_t max_verifications = 6;  // real steps spent on plans the model predicted to fit
  // The time the planner charges a measured probe: the measured median by default. Tests inject
  // a deterministic cost here so that no assertion depends on the machine's speed.
  std::function<double(const StagePlan& plan, double measured_seconds)> step_cost;
};

// Runs steps 1-5 and returns the plan as JSON (run_info, shape, batch, dtype, budget_bytes,
// "fits", "modes" {stage: mode}, "stages" [per stage the chosen mode and every mode's peak and
// time deltas], "predicted" and "measured" peak and time, the whole-network probes "all_plain"
// and "all_reversible", "model_check" (all plain's predicted against measured peak),
// "verifications", "smallest_budget_bytes", "ratios" of time against all plain and all
// reversible). A plan that does not fit has "fits": false and no "modes".
nlohmann::json plan_stage_modes(const nn::UNetConfig& config, const PlanOptions& options);

// The chosen modes of a plan_stage_modes result, in stage order; throws revunet::Error naming
// `source` when the plan does not fit or names other stages than `config` has.
StagePlan plan_modes(const nlohmann::json& plan, const nn::UNetConfig& config,
                     const std::string& source);
// `config` with the plan's modes (the mode most stages run in as `mode`, the rest as
// stage_modes), as `revunet train --mode auto` records it.
nn::UNetConfig with_plan(nn::UNetConfig config, const StagePlan& plan);

// What a cached plan must match to be reused: the config (its modes left out), input shape, batch,
// dtype, device (by name) and LibTorch version.
nlohmann::json plan_key(const nn::UNetConfig& config, const PlanOptions& options);

// `revunet train --mode auto`: the plan in `path` when its "key" matches and its measured peak
// is within the budget, else a new plan_stage_modes written there (with its key). `log` gets one
// line saying which, and why a cached plan was not used.
nlohmann::json cached_or_new_plan(const nn::UNetConfig& config, const PlanOptions& options,
                                  const std::string& path, std::ostream& log);

// The terminal table: per stage the chosen mode and every mode's peak (MiB) and time (ms) deltas
// against all reversible, then predicted and measured peak and time.
std::string plan_table(const nlohmann::json& plan);

}  // namespace revunet::bench

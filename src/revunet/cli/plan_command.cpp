// revunet plan: per stage, the mode (plain, checkpoint, reversible) that makes one training step
// fit a memory budget at the least step time, measured with real training steps
// (bench/stage_planner.h has the method).
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/bench/stage_planner.h"
#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/core/compat.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"

namespace revunet::cli {
namespace {

struct PlanFlags {
  std::string config, device = "cpu", dtype = "fp32", json;
  std::vector<int64_t> shape;
  int64_t budget = 0, edge = 0, batch = 1, warmup = 1, repeats = 3, verifications = 6;
  int64_t threads = 0;
  uint64_t seed = 0;
};

int run_plan(const PlanFlags& flags) {
  apply_threads(flags.threads);
  const nn::UNetConfig config = nn::load_unet_config(flags.config);
  bench::PlanOptions o;
  o.probe.device = core::parse_device(flags.device);
  o.probe.bf16 = flags.dtype == "bf16";
  o.probe.seed = flags.seed;
  o.probe.batch = flags.batch;
  if (flags.budget > 0) {
    o.probe.budget_bytes = flags.budget;
  } else if (o.probe.device.is_cuda()) {
    o.probe.budget_bytes = compat::cuda_total_memory(o.probe.device.index());
  } else {
    fail("--budget", "needed on CPU, e.g. --budget 256MiB");
  }
  if (!flags.shape.empty()) {
    o.shape = {flags.shape[0], flags.shape[1], flags.shape[2]};
  } else if (flags.edge > 0) {
    o.shape = {flags.edge, flags.edge, flags.edge};
  } else {
    o.shape = {config.patch.at(0), config.patch.at(1), config.patch.at(2)};
  }
  o.warmup = flags.warmup;
  o.repeats = flags.repeats;
  o.max_verifications = flags.verifications;
  nlohmann::json plan = bench::plan_stage_modes(config, o);
  plan["config"] = flags.config;
  std::cout << bench::plan_table(plan);
  if (!flags.json.empty()) {
    core::write_json_atomically(flags.json, plan);
    std::cout << "wrote " << flags.json << "\n";
  }
  return plan["fits"].get<bool>() ? 0 : 1;
}

}  // namespace

Runner add_plan_command(CLI::App& app) {
  auto flags = std::make_shared<PlanFlags>();
  PlanFlags& f = *flags;
  app.footer(
      "Measures, with real training steps (forward, loss, backward, AdamW), what each stage's "
      "mode adds to the peak and the step time, picks the fastest per-stage modes whose peak fits "
      "the budget, and checks the pick with a real step. Exit status 1: nothing fits (the "
      "smallest budget that does is printed). `revunet train --mode auto --budget B` runs the "
      "same planner.");
  app.add_option("--config", f.config, "model config (configs/*.json)")
      ->required()
      ->check(CLI::ExistingFile);
  add_device_flag(app, f.device);
  app.add_option("--budget", f.budget,
                 "memory budget of one training step, e.g. 256MiB (default on CUDA: the GPU's "
                 "memory)")
      ->transform(byte_size());
  CLI::Option* shape =
      add_int_list(app, "--shape", f.shape, "input X,Y,Z (default: the config's patch)", 3)
          ->check(at_least(1));
  app.add_option("--edge", f.edge, "cube edge, instead of --shape")
      ->check(at_least(1))
      ->excludes(shape);
  app.add_option("--batch", f.batch, "samples per step")->capture_default_str()->check(at_least(1));
  add_dtype_flag(app, f.dtype);
  app.add_option("--json", f.json, "write the plan and every measurement here (JSON)");
  app.add_option("--warmup", f.warmup, "untimed steps before each probe")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--repeats", f.repeats, "timed steps per probe (median)")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--max-verifications", f.verifications,
                 "most candidate plans checked with a real step")
      ->capture_default_str()
      ->check(at_least(1));
  add_threads_flag(app, f.threads);
  add_seed_flag(app, f.seed, "weights and input seed");
  return [flags] { return run_plan(*flags); };
}

}  // namespace revunet::cli

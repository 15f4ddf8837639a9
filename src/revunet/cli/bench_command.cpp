// revunet bench stack | unet: memory and time of one reversible stack, or of whole U-Net training
// steps, in the three modes.
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/bench/stack_bench.h"
#include "revunet/bench/unet_bench.h"
#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/nn/unet_config.h"

namespace revunet::cli {
namespace {

struct StackFlags {
  std::string device = "cpu", json;
  std::vector<int64_t> depths = {1, 2, 4, 8, 16}, sizes = {16, 32};
  int64_t channels = 16, batch = 1, repeats = 3, threads = 0;
  uint64_t seed = 0;
};

int run_stack(const StackFlags& flags) {
  apply_threads(flags.threads);
  bench::StackBenchOptions o;
  o.device = core::parse_device(flags.device);
  o.depths = flags.depths;
  o.sizes = flags.sizes;
  o.channels = flags.channels;
  o.batch = flags.batch;
  o.repeats = flags.repeats;
  o.seed = flags.seed;
  if (o.channels % 2) fail("--channels", "must be even (a coupling splits them in halves)");

  auto result = bench::run_stack_bench(o);
  std::cout << std::left << std::setw(12) << "mode" << std::setw(7) << "depth" << std::setw(6)
            << "size" << std::setw(16) << "peak MiB"
            << "step ms\n";
  for (const auto& row : result["rows"]) {
    std::cout << std::setw(12) << row["mode"].get<std::string>() << std::setw(7)
              << row["depth"].get<int64_t>() << std::setw(6) << row["size"].get<int64_t>()
              << std::setw(16) << std::fixed << std::setprecision(2)
              << row["peak_activation_bytes"].get<double>() / 1048576.0
              << row["step_seconds"].get<double>() * 1e3 << "\n";
  }
  for (const auto& inv : result["inversion"]) {
    std::cout << "inversion float32 depth " << inv["depth"] << ": max abs error " << std::scientific
              << inv["max_abs_error"].get<double>() << std::fixed << "\n";
  }
  if (!flags.json.empty()) {
    core::write_json_atomically(flags.json, result);
    std::cout << "wrote " << flags.json << "\n";
  }
  return 0;
}

struct UNetFlags {
  std::string config, device = "cpu", dtype = "fp32", json;
  std::vector<std::string> modes;
  std::vector<int64_t> edges;
  int64_t warmup = 2, repeats = 5, threads = 0;
  uint64_t seed = 0;
};

int run_unet(const UNetFlags& flags) {
  apply_threads(flags.threads);
  const nn::UNetConfig config = nn::load_unet_config(flags.config);
  bench::UNetBenchOptions o;
  o.probe.device = core::parse_device(flags.device);
  o.probe.bf16 = flags.dtype == "bf16";
  o.probe.seed = flags.seed;
  o.modes = to_modes(flags.modes);
  o.edges = !flags.edges.empty() ? flags.edges : std::vector<int64_t>{config.patch.at(0)};
  o.warmup = flags.warmup;
  o.repeats = flags.repeats;

  nlohmann::json result = bench::run_unet_bench(config, o);
  result["config"] = flags.config;
  std::cout << std::left << std::setw(12) << "mode" << std::setw(6) << "edge" << std::setw(12)
            << "peak MiB"
            << "step ms\n";
  for (const auto& row : result["rows"]) {
    std::cout << std::setw(12) << row["mode"].get<std::string>() << std::setw(6)
              << row["edge"].get<int64_t>();
    if (!row.contains("step_seconds")) {
      std::cout << "out of memory\n";
      continue;
    }
    std::cout << std::setw(12) << std::fixed << std::setprecision(1)
              << row["peak_bytes"].get<double>() / 1048576.0
              << row["step_seconds"].get<double>() * 1e3 << "\n";
  }
  for (const auto& ratio : result["ratios"]) std::cout << "ratios: " << ratio.dump() << "\n";
  if (!flags.json.empty()) {
    core::write_json_atomically(flags.json, result);
    std::cout << "wrote " << flags.json << "\n";
  }
  return 0;
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  app.require_subcommand(1);
  CLI::App* stack =
      app.add_subcommand("stack", "one MBConv stack: plain vs checkpoint vs reversible");
  auto stack_flags = std::make_shared<StackFlags>();
  {
    StackFlags& f = *stack_flags;
    stack->footer(
        "Peak activation memory and step time of one MBConv stack in plain, checkpoint and "
        "reversible mode.");
    add_device_flag(*stack, f.device);
    add_int_list(*stack, "--depths", f.depths, "couplings per stack, comma-separated")
        ->check(at_least(1));
    add_int_list(*stack, "--sizes", f.sizes, "cube edges of the input, comma-separated")
        ->check(at_least(1));
    stack->add_option("--channels", f.channels, "channels of the stack (split in halves)")
        ->capture_default_str()
        ->check(at_least(2));
    stack->add_option("--batch", f.batch, "batch size")->capture_default_str()->check(at_least(1));
    stack->add_option("--repeats", f.repeats, "timed steps per row (median reported)")
        ->capture_default_str()
        ->check(at_least(1));
    add_threads_flag(*stack, f.threads);
    add_seed_flag(*stack, f.seed, "weights and input seed");
    stack->add_option("--json", f.json, "write the results here (JSON)");
  }
  CLI::App* unet =
      app.add_subcommand("unet", "whole U-Net training steps: plain vs checkpoint vs reversible");
  auto unet_flags = std::make_shared<UNetFlags>();
  {
    UNetFlags& f = *unet_flags;
    unet->footer(
        "Step time and peak memory of whole U-Net training steps (forward, loss, backward, "
        "AdamW) per mode, batch 1, at fixed cube edges.");
    unet->add_option("--config", f.config, "model config (configs/*.json)")
        ->required()
        ->check(CLI::ExistingFile);
    add_device_flag(*unet, f.device);
    add_dtype_flag(*unet, f.dtype);
    add_modes_flag(*unet, f.modes, "plain,checkpoint,reversible");
    add_int_list(*unet, "--edges", f.edges,
                 "cube edges, comma-separated (default: the config's patch)")
        ->check(at_least(1));
    unet->add_option("--warmup", f.warmup, "untimed steps per row")
        ->capture_default_str()
        ->check(at_least(0));
    unet->add_option("--repeats", f.repeats, "timed steps per row (median reported)")
        ->capture_default_str()
        ->check(at_least(1));
    add_threads_flag(*unet, f.threads);
    add_seed_flag(*unet, f.seed, "weights and input seed");
    unet->add_option("--json", f.json, "write the results here (JSON)");
  }
  return [stack, stack_flags, unet_flags] {
    return stack->parsed() ? run_stack(*stack_flags) : run_unet(*unet_flags);
  };
}

}  // namespace revunet::cli

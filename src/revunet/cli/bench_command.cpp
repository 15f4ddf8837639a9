// revunet bench stack | unet: memory and time of one reversible stack, or of whole U-Net training
// steps, in the three modes.
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/bench/stack_bench.h"
#include "revunet/bench/unet_bench.h"
#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/nn/unet_config.h"

namespace revunet::cli {
namespace {

int bench_stack(int argc, const char* const* argv) {
  Args args("revunet bench stack",
            "Peak activation memory and step time of one MBConv stack in "
            "plain, checkpoint and reversible mode.");
  args.option("device", "cpu, cuda or cuda:N", "cpu")
      .option("depths", "couplings per stack, comma-separated", "1,2,4,8,16")
      .option("sizes", "cube edges of the input, comma-separated", "16,32")
      .option("channels", "channels of the stack (split in halves)", "16")
      .option("batch", "batch size", "1")
      .option("repeats", "timed steps per row (median reported)", "3")
      .option("threads", "CPU threads (0 = LibTorch's default)", "0")
      .option("seed", "weights and input seed", "0")
      .option("json", "write the results here (JSON)");
  if (!args.parse(argc, argv, 2)) return 0;
  if (args.get_int("threads") > 0) torch::set_num_threads(args.get_int("threads"));

  bench::StackBenchOptions o;
  o.device = core::parse_device(args.get("device"));
  o.depths = args.get_int_list("depths");
  o.sizes = args.get_int_list("sizes");
  o.channels = args.get_int("channels");
  o.batch = args.get_int("batch");
  o.repeats = args.get_int("repeats");
  o.seed = static_cast<uint64_t>(args.get_int("seed"));
  if (o.channels < 2 || o.channels % 2) fail("--channels", "must be even and at least 2");

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
  if (args.has("json")) {
    core::write_json_atomically(args.get("json"), result);
    std::cout << "wrote " << args.get("json") << "\n";
  }
  return 0;
}

int bench_unet(int argc, const char* const* argv) {
  Args args("revunet bench unet --config FILE [options]",
            "Step time and peak memory of whole U-Net training steps (forward, loss, backward, "
            "AdamW) per mode, batch 1, at fixed cube edges.");
  args.option("config", "model config (configs/*.json)")
      .option("device", "cpu, cuda or cuda:N", "cpu")
      .option("dtype", "fp32, or bf16 (autocast, CUDA only)", "fp32")
      .option("modes", "comma-separated modes", "plain,checkpoint,reversible")
      .option("edges", "cube edges, comma-separated (default: the config's patch)")
      .option("warmup", "untimed steps per row", "2")
      .option("repeats", "timed steps per row (median reported)", "5")
      .option("threads", "CPU threads (0 = LibTorch's default)", "0")
      .option("seed", "weights and input seed", "0")
      .option("json", "write the results here (JSON)");
  if (!args.parse(argc, argv, 2)) return 0;
  if (!args.has("config")) fail("--config", "a model config (configs/*.json) is needed");
  if (args.get_int("threads") > 0) torch::set_num_threads(args.get_int("threads"));
  const nn::UNetConfig config = nn::load_unet_config(args.get("config"));

  bench::UNetBenchOptions o;
  o.probe.device = core::parse_device(args.get("device"));
  o.probe.bf16 = parse_bf16_dtype(args.get("dtype"));
  o.probe.seed = static_cast<uint64_t>(args.get_int("seed"));
  o.modes = parse_modes(args.get("modes"), "--modes");
  o.edges =
      args.has("edges") ? args.get_int_list("edges") : std::vector<int64_t>{config.patch.at(0)};
  o.warmup = args.get_int("warmup");
  o.repeats = args.get_int("repeats");

  nlohmann::json result = bench::run_unet_bench(config, o);
  result["config"] = args.get("config");
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
  if (args.has("json")) {
    core::write_json_atomically(args.get("json"), result);
    std::cout << "wrote " << args.get("json") << "\n";
  }
  return 0;
}

}  // namespace

int bench_command(int argc, const char* const* argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::cout << "usage: revunet bench <what> [options]\n\n"
                 "  stack     one MBConv stack: plain vs checkpoint vs reversible\n"
                 "  unet      whole U-Net training steps: plain vs checkpoint vs reversible\n";
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "stack") return bench_stack(argc, argv);
  if (what == "unet") return bench_unet(argc, argv);
  fail("bench " + what, "unknown benchmark; expected: stack or unet");
}

}  // namespace revunet::cli

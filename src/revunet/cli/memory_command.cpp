// revunet memory: how big a volume, how many couplings, how wide a U-Net fits a memory budget,
// per mode (reversible, plain, checkpoint), measured with real training steps.
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/bench/memory_report.h"
#include "revunet/bench/memory_search.h"
#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/core/compat.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"

namespace revunet::cli {
namespace {

std::string default_plot_path(const std::string& json_path) {
  const size_t dot = json_path.rfind('.');
  const size_t slash = json_path.rfind('/');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? json_path.substr(0, dot) : json_path) + ".png";
}

}  // namespace

int memory_command(int argc, const char* const* argv) {
  Args args("revunet memory",
            "The largest input, depth and width whose training step (forward, "
            "loss, backward, AdamW) fits a memory budget, per mode.");
  args.option("config", "model config (configs/*.json)")
      .option("device", "cpu, cuda or cuda:N", "cpu")
      .option("budget", "memory budget, e.g. 1GiB or 512MiB (default: the GPU's memory)")
      .option("dtype", "fp32, or bf16 (autocast, CUDA only)", "fp32")
      .option("modes", "comma-separated modes", "reversible,plain,checkpoint")
      .flag("shape", "also search the largest scale of a 240x240x155 BraTS crop")
      .option("max-edge", "largest cube edge probed (0: 256 on CPU, 1024 on CUDA)", "0")
      .option("fixed-edge", "cube edge of the couplings and width searches (0: config patch)", "0")
      .option("max-couplings", "most couplings per stage probed", "32")
      .option("max-width", "widest base width probed", "256")
      .option("json", "write the results here (JSON)")
      .option("plot", "peak-vs-voxels PNG (default: next to --json)")
      .flag("explain", "break the peak of one mode and edge into components instead")
      .option("edge", "cube edge for --explain (default: the config's patch)", "0")
      .option("threads", "CPU threads (0 = LibTorch's default)", "0")
      .option("seed", "weights and input seed", "0")
      .option("cap", "never probe where the fit predicts more (0: 20GiB on CPU)", "0")
      .option("time-limit", "seconds for the whole search (0: 240 on CPU, none on CUDA)", "0");
  if (!args.parse(argc, argv, 1)) return 0;
  if (args.get_int("threads") > 0) torch::set_num_threads(args.get_int("threads"));

  bench::MemoryOptions o;
  if (!args.has("config")) fail("--config", "a model config (configs/*.json) is needed");
  o.config_path = args.get("config");
  o.probe.device = core::parse_device(args.get("device"));
  o.probe.bf16 = parse_bf16_dtype(args.get("dtype"));
  if (args.has("budget")) {
    o.probe.budget_bytes = parse_bytes(args.get("budget"), "--budget");
  } else if (o.probe.device.is_cuda()) {
    o.probe.budget_bytes = compat::cuda_total_memory(o.probe.device.index());
  } else {
    fail("--budget", "needed on CPU, e.g. --budget 1GiB");
  }
  o.probe.seed = static_cast<uint64_t>(args.get_int("seed"));
  o.modes = parse_modes(args.get("modes"), "--modes");
  o.shape = args.is_set("shape");
  o.max_edge = args.get_int("max-edge");
  o.fixed_edge = args.get_int("fixed-edge");
  o.max_couplings = args.get_int("max-couplings");
  o.max_width = args.get_int("max-width");
  o.time_limit = args.get_double("time-limit");
  if (args.get("cap") != "0") o.cap_bytes = parse_bytes(args.get("cap"), "--cap");

  if (args.is_set("explain")) {
    const nn::UNetConfig config = nn::load_unet_config(o.config_path);
    const int64_t edge = args.get_int("edge") > 0 ? args.get_int("edge") : config.patch.at(0);
    if (edge % config.size_multiple()) {
      fail("--edge " + std::to_string(edge),
           "must be a multiple of " + std::to_string(config.size_multiple()));
    }
    auto explained = bench::explain_peak(config, o.modes.front(), edge, o.probe);
    explained["config"] = o.config_path;
    std::cout << bench::explain_table(explained);
    if (args.has("json")) {
      core::write_json_atomically(args.get("json"), explained);
      std::cout << "wrote " << args.get("json") << "\n";
    }
    return 0;
  }

  const nlohmann::json result = bench::run_memory(o);
  std::cout << bench::memory_table(result);
  if (args.has("json")) {
    core::write_json_atomically(args.get("json"), result);
    std::cout << "wrote " << args.get("json") << "\n";
  }
  if (args.has("plot") || args.has("json")) {
    const std::string plot =
        args.has("plot") ? args.get("plot") : default_plot_path(args.get("json"));
    bench::plot_memory(result, plot);
    std::cout << "wrote " << plot << "\n";
  }
  return 0;
}

}  // namespace revunet::cli

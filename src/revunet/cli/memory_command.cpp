// revunet memory: how big a volume, how many couplings, how wide a U-Net fits a memory budget,
// per mode (reversible, plain, checkpoint), measured with real training steps.
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/bench/memory_report.h"
#include "revunet/bench/memory_search.h"
#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
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

struct MemoryFlags {
  std::string config, device = "cpu", dtype = "fp32", json, plot;
  std::vector<std::string> modes;
  int64_t budget = 0, cap = 0, max_edge = 0, fixed_edge = 0, max_couplings = 32, max_width = 256;
  int64_t edge = 0, threads = 0;
  double time_limit = 0;
  uint64_t seed = 0;
  bool shape = false, explain = false;
};

int run_memory(const MemoryFlags& flags) {
  apply_threads(flags.threads);
  bench::MemoryOptions o;
  o.config_path = flags.config;
  o.probe.device = core::parse_device(flags.device);
  o.probe.bf16 = flags.dtype == "bf16";
  if (flags.budget > 0) {
    o.probe.budget_bytes = flags.budget;
  } else if (o.probe.device.is_cuda()) {
    o.probe.budget_bytes = compat::cuda_total_memory(o.probe.device.index());
  } else {
    fail("--budget", "needed on CPU, e.g. --budget 1GiB");
  }
  o.probe.seed = flags.seed;
  o.modes = to_modes(flags.modes);
  o.shape = flags.shape;
  o.max_edge = flags.max_edge;
  o.fixed_edge = flags.fixed_edge;
  o.max_couplings = flags.max_couplings;
  o.max_width = flags.max_width;
  o.time_limit = flags.time_limit;
  if (flags.cap > 0) o.cap_bytes = flags.cap;

  if (flags.explain) {
    const nn::UNetConfig config = nn::load_unet_config(o.config_path);
    const int64_t edge = flags.edge > 0 ? flags.edge : config.patch.at(0);
    if (edge % config.size_multiple()) {
      fail("--edge " + std::to_string(edge),
           "must be a multiple of " + std::to_string(config.size_multiple()));
    }
    auto explained = bench::explain_peak(config, o.modes.front(), edge, o.probe);
    explained["config"] = o.config_path;
    std::cout << bench::explain_table(explained);
    if (!flags.json.empty()) {
      core::write_json_atomically(flags.json, explained);
      std::cout << "wrote " << flags.json << "\n";
    }
    return 0;
  }

  const nlohmann::json result = bench::run_memory(o);
  std::cout << bench::memory_table(result);
  if (!flags.json.empty()) {
    core::write_json_atomically(flags.json, result);
    std::cout << "wrote " << flags.json << "\n";
  }
  if (!flags.plot.empty() || !flags.json.empty()) {
    const std::string plot = !flags.plot.empty() ? flags.plot : default_plot_path(flags.json);
    bench::plot_memory(result, plot);
    std::cout << "wrote " << plot << "\n";
  }
  return 0;
}

}  // namespace

Runner add_memory_command(CLI::App& app) {
  auto flags = std::make_shared<MemoryFlags>();
  MemoryFlags& f = *flags;
  app.footer(
      "The largest input, depth and width whose training step (forward, loss, backward, AdamW) "
      "fits a memory budget, per mode.");
  app.add_option("--config", f.config, "model config (configs/*.json)")
      ->required()
      ->check(CLI::ExistingFile);
  add_device_flag(app, f.device);
  app.add_option("--budget", f.budget,
                 "memory budget, e.g. 1GiB or 512MiB (default on CUDA: the GPU's memory)")
      ->transform(byte_size());
  add_dtype_flag(app, f.dtype);
  add_modes_flag(app, f.modes, "reversible,plain,checkpoint");
  app.add_option("--json", f.json, "write the results here (JSON)");
  add_threads_flag(app, f.threads);
  add_seed_flag(app, f.seed, "weights and input seed");
  // The searches' flags; --explain breaks one peak down instead and takes none of them.
  std::vector<CLI::Option*> search = {
      app.add_flag("--shape", f.shape, "also search the largest scale of a 240x240x155 BraTS crop"),
      app.add_option("--max-edge", f.max_edge,
                     "largest cube edge probed (0: 256 on CPU, 1024 on CUDA)")
          ->capture_default_str()
          ->check(at_least(0)),
      app.add_option("--fixed-edge", f.fixed_edge,
                     "cube edge of the couplings and width searches (0: config patch)")
          ->capture_default_str()
          ->check(at_least(0)),
      app.add_option("--max-couplings", f.max_couplings, "most couplings per stage probed")
          ->capture_default_str()
          ->check(at_least(1)),
      app.add_option("--max-width", f.max_width, "widest base width probed")
          ->capture_default_str()
          ->check(at_least(2)),
      app.add_option("--plot", f.plot, "peak-vs-voxels PNG (default: next to --json)"),
      app.add_option("--cap", f.cap, "never probe where the fit predicts more (0: 20GiB on CPU)")
          ->capture_default_str()
          ->transform(byte_size(/*allow_zero=*/true)),
      app.add_option("--time-limit", f.time_limit,
                     "seconds for the whole search (0: 240 on CPU, none on CUDA)")
          ->capture_default_str()
          ->check(at_least(0))};
  CLI::Option* explain = app.add_flag(
      "--explain", f.explain, "break the peak of one mode and edge into components instead");
  for (CLI::Option* option : search) explain->excludes(option);
  app.add_option("--edge", f.edge, "cube edge for --explain (default: the config's patch)")
      ->check(at_least(1))
      ->needs(explain);
  return [flags] { return run_memory(*flags); };
}

}  // namespace revunet::cli

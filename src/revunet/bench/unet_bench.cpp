#include "revunet/bench/unet_bench.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"

namespace revunet::bench {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

nlohmann::json bench_row(const nn::UNetConfig& config, rev::StackMode mode, int64_t edge,
                         const UNetBenchOptions& o) {
  nlohmann::json row = {{"mode", rev::to_string(mode)}, {"edge", edge}};
  const Shape3 shape{edge, edge, edge};
  std::vector<double> seconds;
  ProbeResult last;
  try {
    TrainingProbe probe(config, mode, o.probe);
    for (int64_t i = 0; i < o.warmup + o.repeats; ++i) {
      last = probe.measure(shape, /*release_cache=*/false);
      if (last.out_of_memory) break;
      if (i >= o.warmup) seconds.push_back(last.seconds);
    }
  } catch (const c10::Error& e) {
    if (!is_out_of_memory(e)) throw;
    last.out_of_memory = true;
  }
  row["out_of_memory"] = last.out_of_memory;
  row["fits"] = !last.out_of_memory && last.fits;
  if (last.out_of_memory || seconds.empty()) return row;
  row["peak_bytes"] = last.peak_bytes;
  row["activation_bytes"] = last.activation_bytes;
  const double step = median(seconds);
  row["step_seconds"] = step;
  row["step_seconds_min"] = *std::min_element(seconds.begin(), seconds.end());
  row["steps_per_second"] = 1.0 / step;
  row["voxels_per_second"] = static_cast<double>(voxels(shape)) / step;
  return row;
}

}  // namespace

nlohmann::json run_unet_bench(const nn::UNetConfig& config, const UNetBenchOptions& o) {
  if (o.repeats < 1) fail("--repeats", "must be at least 1");
  if (o.warmup < 0) fail("--warmup", "must be 0 or more");
  for (const int64_t edge : o.edges) {
    if (edge < 1 || edge % config.size_multiple()) {
      fail("--edges " + std::to_string(edge),
           "each edge must be a positive multiple of " + std::to_string(config.size_multiple()));
    }
  }
  core::configure_cuda_training(o.probe.device);
  nlohmann::json result = core::run_info(o.probe.device);
  result["dtype"] = o.probe.bf16 ? "bf16" : "fp32";
  result["warmup"] = o.warmup;
  result["repeats"] = o.repeats;
  result["rows"] = nlohmann::json::array();
  result["ratios"] = nlohmann::json::array();
  for (const int64_t edge : o.edges) {
    std::map<std::string, nlohmann::json> by_mode;
    for (const rev::StackMode mode : o.modes) {
      nlohmann::json row = bench_row(config, mode, edge, o);
      by_mode[row["mode"].get<std::string>()] = row;
      result["rows"].push_back(std::move(row));
    }
    const auto plain = by_mode.find("plain");
    if (plain == by_mode.end() || !plain->second.contains("step_seconds")) continue;
    nlohmann::json ratio = {{"edge", edge}};
    for (const char* mode : {"checkpoint", "reversible"}) {
      const auto it = by_mode.find(mode);
      if (it == by_mode.end() || !it->second.contains("step_seconds")) continue;
      ratio[std::string(mode) + "_over_plain_time"] =
          it->second["step_seconds"].get<double>() / plain->second["step_seconds"].get<double>();
      ratio[std::string(mode) + "_over_plain_peak"] =
          it->second["peak_bytes"].get<double>() / plain->second["peak_bytes"].get<double>();
    }
    result["ratios"].push_back(ratio);
  }
  return result;
}

}  // namespace revunet::bench

#include "revunet/bench/stack_bench.h"

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/core/device.h"
#include "revunet/core/memory.h"
#include "revunet/core/run_info.h"
#include "revunet/nn/mbconv.h"

namespace revunet::bench {
namespace {

nn::MBConvOptions mbconv_options(const StackBenchOptions& o) {
  return nn::MBConvOptions(o.channels / 2).expansion(o.expansion);
}

}  // namespace

StackMeasurement measure_stack(const StackBenchOptions& o, const char* mode, int64_t depth,
                               int64_t size) {
  core::seed_everything(o.seed);
  auto stack =
      nn::make_mbconv_stack(o.channels, depth, mbconv_options(o), rev::parse_stack_mode(mode));
  stack->to(o.device);
  auto opts = torch::TensorOptions().device(o.device).dtype(torch::kFloat32);
  auto x = torch::randn({o.batch, o.channels, size, size, size}, opts).requires_grad_(true);
  auto grad_out = torch::randn({o.batch, o.channels, size, size, size}, opts);

  auto step = [&] {
    auto y = stack->forward(x);
    y.backward(grad_out);
  };
  step();  // warm-up: allocates parameter and input gradients, which the baseline then holds
  core::synchronize(o.device);

  StackMeasurement m;
  {
    core::PeakMemoryScope scope(o.device);
    step();
    core::synchronize(o.device);
    m.peak_activation_bytes = scope.peak_above_baseline();
    m.leaked_bytes = scope.current_bytes() - scope.baseline_bytes();
  }
  std::vector<double> times;
  for (int64_t r = 0; r < o.repeats; ++r) {
    core::synchronize(o.device);
    auto t0 = std::chrono::steady_clock::now();
    step();
    core::synchronize(o.device);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  m.step_seconds = times.empty() ? 0.0 : times[times.size() / 2];
  return m;
}

InversionError measure_inversion(c10::Device device, int64_t channels, int64_t depth, int64_t size,
                                 uint64_t seed) {
  core::seed_everything(seed);
  auto stack = nn::make_mbconv_stack(channels, depth, nn::MBConvOptions(channels / 2),
                                     rev::StackMode::kReversible);
  stack->to(device);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, channels, size, size, size}, torch::TensorOptions().device(device));
  auto back = stack->inverse(stack->forward(x));
  InversionError e;
  e.max_abs = (back - x).abs().max().item<double>();
  e.max_rel = e.max_abs / x.abs().max().item<double>();
  return e;
}

nlohmann::json run_stack_bench(const StackBenchOptions& o) {
  if (!o.device.is_cuda()) core::CpuMemoryTracker::install();
  // Let cuDNN pick the fastest algorithms for these fixed shapes (what nnU-Net and MONAI do).
  if (o.device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
  nlohmann::json result = core::run_info(o.device);
  result["config"] = {{"channels", o.channels}, {"batch", o.batch},     {"expansion", o.expansion},
                      {"dtype", "float32"},     {"repeats", o.repeats}, {"seed", o.seed}};
  result["rows"] = nlohmann::json::array();
  for (int64_t size : o.sizes) {
    for (int64_t depth : o.depths) {
      for (const char* mode : {"plain", "checkpoint", "reversible"}) {
        auto m = measure_stack(o, mode, depth, size);
        result["rows"].push_back({{"mode", mode},
                                  {"depth", depth},
                                  {"size", size},
                                  {"peak_activation_bytes", m.peak_activation_bytes},
                                  {"leaked_bytes", m.leaked_bytes},
                                  {"step_seconds", m.step_seconds}});
        std::cerr << "stack " << mode << " depth " << depth << " size " << size << ": peak "
                  << m.peak_activation_bytes / 1048576.0 << " MiB, " << m.step_seconds * 1e3
                  << " ms\n";
      }
    }
  }
  // Ratios against plain at the same depth and size, the numbers the targets are stated in.
  result["ratios"] = nlohmann::json::array();
  for (const auto& row : result["rows"]) {
    if (row["mode"] != "plain") continue;
    for (const auto& other : result["rows"]) {
      if (other["depth"] != row["depth"] || other["size"] != row["size"] ||
          other["mode"] == "plain")
        continue;
      result["ratios"].push_back({{"mode", other["mode"]},
                                  {"depth", row["depth"]},
                                  {"size", row["size"]},
                                  {"peak_vs_plain", other["peak_activation_bytes"].get<double>() /
                                                        row["peak_activation_bytes"].get<double>()},
                                  {"time_vs_plain", other["step_seconds"].get<double>() /
                                                        row["step_seconds"].get<double>()}});
    }
  }
  result["inversion"] = nlohmann::json::array();
  for (int64_t depth : o.inversion_depths) {
    auto e = measure_inversion(o.device, o.channels, depth, o.inversion_size, o.seed);
    result["inversion"].push_back({{"depth", depth},
                                   {"size", o.inversion_size},
                                   {"dtype", "float32"},
                                   {"max_abs_error", e.max_abs},
                                   {"max_rel_error", e.max_rel}});
  }
  return result;
}

}  // namespace revunet::bench

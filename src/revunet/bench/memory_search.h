// `revunet memory`, step 2: under a memory budget, per mode, the largest cube edge (or scale of a
// BraTS-shaped 240x240x155 crop), the most couplings per stage and the widest base width whose
// training step fits. Each search runs over an integer k (edge = k * 2^(levels-1), couplings = k,
// width = k * step): doubling until a probe fails, then candidates placed by a linear fit of the
// measured peaks (peak ~ a + b x) and kept inside the bracket, so it converges in a few probes.
// The answer is always a measured probe; where a cap (time, bytes, --max-edge) stops a search
// before it brackets the budget, the fit's estimate beyond it is reported as "extrapolated".
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "revunet/bench/memory_probe.h"
#include "revunet/nn/unet_config.h"

namespace revunet::bench {

struct SearchLimits {
  int64_t budget_bytes = 0;
  int64_t k_max = 64;     // never probe beyond
  double seconds = 0;     // wall clock for the whole search (0: none)
  int64_t cap_bytes = 0;  // never probe where the fit predicts more (0: none)
};

struct LinearFit {
  double a = 0, b = 0;
  bool valid = false;
  double at(double x) const { return a + b * x; }
};
// Least squares over the measured (x, peak) points.
LinearFit fit_peaks(const std::vector<double>& x, const std::vector<double>& peak);

struct SearchResult {
  int64_t best_k = 0;  // largest k measured to fit (0: not even k = 1)
  std::vector<int64_t> ks;
  std::vector<ProbeResult> probes;
  bool bracketed = false;      // a measured failure at best_k + 1 proves the answer
  std::string capped;          // why the search stopped early ("" when bracketed)
  LinearFit fit;               // over the measured probes, in x(k)
  int64_t extrapolated_k = 0;  // > best_k: the fit's estimate beyond the cap (0: none)
};

// `x_of_k` gives the fit's variable (voxels, couplings, width) for k; `probe` measures one k.
SearchResult search_largest(const SearchLimits& limits,
                            const std::function<double(int64_t)>& x_of_k,
                            const std::function<ProbeResult(int64_t)>& probe);

struct MemoryOptions {
  std::string config_path;  // for the JSON and error messages
  ProbeOptions probe;       // device, dtype, budget
  std::vector<rev::StackMode> modes{rev::StackMode::kReversible, rev::StackMode::kPlain,
                                    rev::StackMode::kCheckpoint};
  bool shape = false;      // also search the scale of a 240x240x155 crop
  int64_t max_edge = 0;    // 0: 256 on CPU, 1024 on CUDA
  int64_t fixed_edge = 0;  // edge for the couplings and width searches (0: the config's patch)
  int64_t max_couplings = 32;
  int64_t max_width = 256;  // base width
  double time_limit = 0;    // seconds for everything (0: 240 on CPU, none on CUDA)
  int64_t cap_bytes = 0;    // 0: 20 GiB on CPU, none on CUDA
  bool cube = true, couplings = true, width = true;  // which searches run
};

// Channels step for the width search: group norm and the halves of the couplings must divide.
int64_t width_step(const nn::UNetConfig& config);
// The config with base width `base` (other levels scaled by the same factor) / `k` couplings.
nn::UNetConfig with_base_width(nn::UNetConfig config, int64_t base);
nn::UNetConfig with_couplings(nn::UNetConfig config, int64_t couplings);
// 240x240x155 scaled by k / 8, each side rounded up to a multiple of `multiple`.
Shape3 brats_crop(int64_t k, int64_t multiple);

// All searches for all modes: {run_info..., "config", "budget_bytes", "modes": [...], "ratios"}.
nlohmann::json run_memory_search(const nn::UNetConfig& config, const MemoryOptions& options);
// Loads options.config_path (a bad file is a revunet::Error naming the file and field) and runs.
nlohmann::json run_memory(const MemoryOptions& options);

}  // namespace revunet::bench

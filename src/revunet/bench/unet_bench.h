// `revunet bench unet`: step time and peak memory of whole U-Net training steps (forward, loss,
// backward, AdamW) per mode at fixed cube edges: the "reversible costs <= 1.4x plain" question,
// answered with the same probes as `revunet memory` but timed over several steps.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "revunet/bench/memory_probe.h"
#include "revunet/nn/unet_config.h"
#include "revunet/rev/reversible_sequence.h"

namespace revunet::bench {

struct UNetBenchOptions {
  ProbeOptions probe;  // device, bf16, budget (0: none), seed
  std::vector<rev::StackMode> modes{rev::StackMode::kPlain, rev::StackMode::kCheckpoint,
                                    rev::StackMode::kReversible};
  std::vector<int64_t> edges{64};
  int64_t warmup = 2;   // untimed steps per row (cuDNN autotuning, allocator growth)
  int64_t repeats = 5;  // timed steps per row; the median is reported
};

// One row per (edge, mode): {"mode", "edge", "fits", "out_of_memory", "peak_bytes",
// "step_seconds" (median), "step_seconds_min", "steps_per_second"}, plus "ratios" per edge
// (time and peak of checkpoint and reversible over plain) and run_info.
nlohmann::json run_unet_bench(const nn::UNetConfig& config, const UNetBenchOptions& options);

}  // namespace revunet::bench

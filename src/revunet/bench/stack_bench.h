// `revunet bench stack`: peak activation memory and step time of one MBConv stack in the three
// modes at several depths and sizes, plus the float32 reconstruction drift of the inverse.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <vector>

namespace revunet::bench {

struct StackBenchOptions {
  c10::Device device = c10::kCPU;
  std::vector<int64_t> depths{1, 2, 4, 8, 16};
  std::vector<int64_t> sizes{16, 32};  // cube edges
  int64_t channels = 16;
  int64_t batch = 1;
  int64_t expansion = 4;
  int64_t repeats = 3;  // timed forward+backward steps per row (median reported)
  std::vector<int64_t> inversion_depths{1, 8, 64};
  int64_t inversion_size = 16;
  uint64_t seed = 0;
};

struct StackMeasurement {
  int64_t peak_activation_bytes = 0;  // forward + backward, above params, grads, input, grad-out
  int64_t leaked_bytes = 0;           // bytes still held after backward, beyond the baseline
  double step_seconds = 0;            // median forward + backward
};

// One forward+backward of a fresh stack (weights from `seed`) at cube edge `size`.
StackMeasurement measure_stack(const StackBenchOptions& options, const char* mode, int64_t depth,
                               int64_t size);

// Maximum absolute and relative error of inverse(forward(x)) against x in float32.
struct InversionError {
  double max_abs = 0;
  double max_rel = 0;  // max_abs / max |x|
};
InversionError measure_inversion(c10::Device device, int64_t channels, int64_t depth,
                                 int64_t size, uint64_t seed);

// Runs the whole grid; the JSON follows the interface of issue #2 (`rows` with mode, depth,
// size, peak_activation_bytes, step_seconds) plus `inversion` and `ratios`.
nlohmann::json run_stack_bench(const StackBenchOptions& options);

}  // namespace revunet::bench

// `revunet memory`, step 1: the peak memory of one real training step (forward, region loss,
// backward, AdamW step) of a U-Net at one input size, split into parameters, gradients, optimiser
// state, input + target and activations (the rest of the peak).
#pragma once

#include <c10/core/Device.h>

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "revunet/nn/unet.h"
#include "revunet/nn/unet_config.h"

namespace torch::optim {
class Optimizer;
}

namespace revunet::bench {

using Shape3 = std::array<int64_t, 3>;
inline int64_t voxels(const Shape3& s) {
  return s[0] * s[1] * s[2];
}

struct ProbeOptions {
  c10::Device device = c10::kCPU;
  bool bf16 = false;         // bfloat16 autocast (CUDA only)
  int64_t budget_bytes = 0;  // a peak above this "does not fit" (0: no budget)
  uint64_t seed = 0;
  int64_t batch = 1;  // samples per measured step
};

struct ProbeResult {
  Shape3 shape{0, 0, 0};
  bool fits = false;
  bool out_of_memory = false;  // CUDA refused an allocation (the peak is then unknown)
  int64_t peak_bytes = 0;      // everything the step held at its worst, model state included
  int64_t parameter_bytes = 0;
  int64_t gradient_bytes = 0;
  int64_t optimizer_bytes = 0;
  int64_t input_bytes = 0;       // input + target
  int64_t activation_bytes = 0;  // peak minus the four above
  double seconds = 0;            // the measured step
};
nlohmann::json to_json(const ProbeResult& r);

// A model with its optimiser, warmed up by one step so that gradients and AdamW state exist (they
// are part of the real footprint); then any number of measured steps at any input size. On CUDA a
// budget is enforced through the allocator's memory fraction and an out-of-memory error becomes
// fits = false; on CPU the tracker's peak is compared with the budget.
class TrainingProbe {
 public:
  TrainingProbe(const nn::UNetConfig& config, rev::StackMode mode, const ProbeOptions& options);
  ~TrainingProbe();

  // `release_cache`: on CUDA, hand cached blocks back first so every probe starts alike (the
  // searches); timed benchmarks keep the cache, as a training loop does.
  ProbeResult measure(const Shape3& shape, bool release_cache = true);

  // Bytes held after one forward with autograd (the graph saved for backward), above the state
  // the probe holds between steps; the forward's output counts. Used by --explain.
  int64_t stored_after_forward(const Shape3& shape);
  // The same forward, its stored bytes split by the part of the network that left them (the
  // increase of the device's bytes across each part, nn::UNetImpl::set_part_observer: its saved
  // tensors and its output, less what it released), in forward order; the rows sum to
  // stored_after_forward. Part names are the observer's ("stem", "enc0", "down0", ...).
  std::vector<std::pair<std::string, int64_t>> stored_by_part(const Shape3& shape);

  nn::UNet& model() { return model_; }
  int64_t parameter_bytes() const { return parameter_bytes_; }
  int64_t gradient_bytes() const;
  int64_t optimizer_bytes() const;

 private:
  torch::Tensor loss(const torch::Tensor& image, const torch::Tensor& target);
  void step(const Shape3& shape);

  nn::UNetConfig config_;
  ProbeOptions options_;
  int64_t baseline_bytes_ = 0;  // device bytes before the model existed
  int64_t parameter_bytes_ = 0;
  nn::UNet model_{nullptr};
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
};

// A fresh model measured once at `shape`; a model too big to even build or warm up on CUDA is
// reported as out of memory rather than thrown.
ProbeResult probe_fresh(const nn::UNetConfig& config, rev::StackMode mode,
                        const ProbeOptions& options, const Shape3& shape);

// True for the out-of-memory errors of LibTorch 1.13 (a c10::Error saying so) and 2.x.
bool is_out_of_memory(const std::exception& e);

// Frees cached device memory between probes (CUDA) and applies the budget as a memory fraction.
void prepare_device(const ProbeOptions& options);

}  // namespace revunet::bench

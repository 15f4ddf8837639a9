// Optimiser factory, learning-rate schedule, gradient clipping and gradient accumulation.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace revunet::train {

enum class OptimizerKind { kAdamW, kSgd };
OptimizerKind parse_optimizer_kind(const std::string& text);  // "adamw" or "sgd"

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdamW;
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double beta1 = 0.9;  // AdamW
  double beta2 = 0.999;
  double eps = 1e-8;
  double momentum = 0.99;  // SGD, always with Nesterov momentum
};

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const OptimizerOptions& options);

// Sets / reads the learning rate of every parameter group (AdamW and SGD).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
double learning_rate(const torch::optim::Optimizer& optimizer);

enum class DecayKind { kPoly, kCosine, kConstant };
DecayKind parse_decay_kind(const std::string& text);  // "poly", "cosine" or "constant"

struct LrScheduleOptions {
  double base_lr = 1e-3;
  int64_t warmup_iterations = 0;  // linear ramp from base_lr / warmup to base_lr
  int64_t total_iterations = 1;   // warm-up included; from here on the rate is `floor`
  DecayKind decay = DecayKind::kPoly;
  double power = 0.9;  // poly: (1 - t)^power
  double floor = 0;    // the rate the decay ends at
};

// The learning rate as a pure function of the optimiser-step index, so resuming at iteration i
// gives exactly the rate an uninterrupted run had there.
class LrSchedule {
 public:
  explicit LrSchedule(LrScheduleOptions options);
  // Rate for the step with 0-based index `iteration`.
  double at(int64_t iteration) const;
  const LrScheduleOptions& options() const { return options_; }

 private:
  LrScheduleOptions options_;
};

// Scales gradients so their global L2 norm is at most `max_norm` (no scaling when max_norm <= 0
// or the norm is not finite). Returns the norm before clipping (inf/nan when gradients are).
double clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm);

struct StepResult {
  double loss = 0;       // mean of the micro-batch losses
  double grad_norm = 0;  // before clipping
  bool stepped = false;  // false when the gradient was not finite (the step was skipped)
};

// One optimiser step accumulated over `micro_batches` micro-batches: zeroes the gradients, calls
// `micro_loss(k)` for k = 0..K-1 and back-propagates loss / K after each (so only one micro-batch's
// graph is alive), clips to `clip_norm`, steps. With per-sample mean losses and equal micro-batch
// sizes this equals one step on the concatenated batch.
StepResult accumulated_step(torch::optim::Optimizer& optimizer,
                            const std::vector<torch::Tensor>& parameters, int64_t micro_batches,
                            double clip_norm,
                            const std::function<torch::Tensor(int64_t)>& micro_loss);

}  // namespace revunet::train

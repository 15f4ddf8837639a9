#include "revunet/train/optim.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "revunet/core/error.h"

namespace revunet::train {

OptimizerKind parse_optimizer_kind(const std::string& text) {
  if (text == "adamw") return OptimizerKind::kAdamW;
  if (text == "sgd") return OptimizerKind::kSgd;
  fail("optimizer '" + text + "'", "expected adamw or sgd");
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const OptimizerOptions& options) {
  TORCH_CHECK(options.lr > 0, "make_optimizer: lr must be positive, got ", options.lr);
  if (options.kind == OptimizerKind::kSgd) {
    return std::make_unique<torch::optim::SGD>(std::move(parameters),
                                               torch::optim::SGDOptions(options.lr)
                                                   .momentum(options.momentum)
                                                   .nesterov(true)
                                                   .weight_decay(options.weight_decay));
  }
  return std::make_unique<torch::optim::AdamW>(std::move(parameters),
                                               torch::optim::AdamWOptions(options.lr)
                                                   .betas({options.beta1, options.beta2})
                                                   .eps(options.eps)
                                                   .weight_decay(options.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

double learning_rate(const torch::optim::Optimizer& optimizer) {
  TORCH_CHECK(!optimizer.param_groups().empty(), "learning_rate: optimizer has no groups");
  return optimizer.param_groups().front().options().get_lr();
}

DecayKind parse_decay_kind(const std::string& text) {
  if (text == "poly") return DecayKind::kPoly;
  if (text == "cosine") return DecayKind::kCosine;
  if (text == "constant") return DecayKind::kConstant;
  fail("learning-rate decay '" + text + "'", "expected poly, cosine or constant");
}

LrSchedule::LrSchedule(LrScheduleOptions options) : options_(options) {
  TORCH_CHECK(options_.total_iterations >= 1, "LrSchedule: total_iterations must be >= 1, got ",
              options_.total_iterations);
  TORCH_CHECK(
      options_.warmup_iterations >= 0 && options_.warmup_iterations <= options_.total_iterations,
      "LrSchedule: warmup_iterations ", options_.warmup_iterations,
      " must lie in [0, total_iterations = ", options_.total_iterations, "]");
}

double LrSchedule::at(int64_t iteration) const {
  const LrScheduleOptions& o = options_;
  if (iteration < 0) iteration = 0;
  if (iteration < o.warmup_iterations) {
    return o.base_lr * static_cast<double>(iteration + 1) /
           static_cast<double>(o.warmup_iterations);
  }
  if (o.decay == DecayKind::kConstant) return o.base_lr;
  const int64_t span = o.total_iterations - o.warmup_iterations;
  if (iteration >= o.total_iterations || span <= 0) return o.floor;
  const double t = static_cast<double>(iteration - o.warmup_iterations) / static_cast<double>(span);
  const double shape =
      o.decay == DecayKind::kPoly ? std::pow(1.0 - t, o.power) : 0.5 * (1.0 + std::cos(M_PI * t));
  return o.floor + (o.base_lr - o.floor) * shape;
}

double clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const auto& p : parameters) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().to(torch::kDouble).norm());
  }
  if (norms.empty()) return 0;
  const double total = torch::stack(norms).norm().item<double>();
  if (max_norm > 0 && std::isfinite(total) && total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    torch::NoGradGuard no_grad;
    for (const auto& p : parameters) {
      if (p.grad().defined()) p.grad().mul_(scale);
    }
  }
  return total;
}

StepResult accumulated_step(torch::optim::Optimizer& optimizer,
                            const std::vector<torch::Tensor>& parameters, int64_t micro_batches,
                            double clip_norm,
                            const std::function<torch::Tensor(int64_t)>& micro_loss) {
  TORCH_CHECK(micro_batches >= 1, "accumulated_step: micro_batches must be >= 1, got ",
              micro_batches);
  optimizer.zero_grad();
  StepResult result;
  for (int64_t k = 0; k < micro_batches; ++k) {
    const torch::Tensor loss = micro_loss(k);
    TORCH_CHECK(loss.dim() == 0, "accumulated_step: the loss must be a scalar, got ", loss.sizes());
    (micro_batches == 1 ? loss : loss / static_cast<double>(micro_batches)).backward();
    result.loss += loss.item<double>() / static_cast<double>(micro_batches);
  }
  result.grad_norm = clip_grad_norm(parameters, clip_norm);
  if (!std::isfinite(result.grad_norm)) {
    optimizer.zero_grad();  // a bf16 overflow or a bad batch must not poison the weights
    return result;
  }
  optimizer.step();
  result.stepped = true;
  return result;
}

}  // namespace revunet::train

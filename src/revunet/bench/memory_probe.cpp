#include "revunet/bench/memory_probe.h"

#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/optim/adamw.h>
#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "revunet/core/compat.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/memory.h"
#include "revunet/train/loss.h"
#include "revunet/train/optim.h"

namespace revunet::bench {
namespace {

int64_t tensor_bytes(const torch::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0;
}

int device_index(c10::Device device) {
  return device.has_index() ? device.index() : 0;
}

}  // namespace

nlohmann::json to_json(const ProbeResult& r) {
  return {{"shape", {r.shape[0], r.shape[1], r.shape[2]}},
          {"edge", r.shape[0] == r.shape[1] && r.shape[1] == r.shape[2] ? r.shape[0] : 0},
          {"voxels", voxels(r.shape)},
          {"fits", r.fits},
          {"out_of_memory", r.out_of_memory},
          {"peak_bytes", r.peak_bytes},
          {"parameter_bytes", r.parameter_bytes},
          {"gradient_bytes", r.gradient_bytes},
          {"optimizer_bytes", r.optimizer_bytes},
          {"input_bytes", r.input_bytes},
          {"activation_bytes", r.activation_bytes},
          {"seconds", r.seconds}};
}

bool is_out_of_memory(const std::exception& e) {
  return std::string(e.what()).find("out of memory") != std::string::npos;
}

void prepare_device(const ProbeOptions& o) {
  if (!o.device.is_cuda()) {
    core::CpuMemoryTracker::install();
    return;
  }
  compat::cuda_empty_cache();
  const int index = device_index(o.device);
  const int64_t total = compat::cuda_total_memory(index);
  if (o.budget_bytes > 0 && total > 0) {
    compat::cuda_set_memory_fraction(std::min(1.0, static_cast<double>(o.budget_bytes) / total),
                                     index);
  }
}

TrainingProbe::TrainingProbe(const nn::UNetConfig& config, rev::StackMode mode,
                             const ProbeOptions& options)
    : config_(config), options_(options) {
  if (options_.device.is_cuda() && !options_.device.has_index()) {
    options_.device = c10::Device(c10::kCUDA, 0);
  }
  if (options_.bf16 && !options_.device.is_cuda()) {
    fail("--dtype bf16", "bfloat16 autocast is for CUDA devices; use --dtype fp32 on CPU");
  }
  prepare_device(options_);
  core::synchronize(options_.device);
  baseline_bytes_ = core::current_bytes(options_.device);
  core::seed_everything(options_.seed);
  model_ = nn::UNet(config_);
  model_->set_mode(mode);
  model_->to(options_.device);
  model_->train();
  parameters_ = model_->parameters();
  for (const auto& p : parameters_) parameter_bytes_ += tensor_bytes(p);
  optimizer_ = train::make_optimizer(parameters_, train::OptimizerOptions{});
  // Warm-up at the smallest size the network takes: the gradients and the optimiser state it
  // leaves behind do not depend on the input size.
  const int64_t m = config_.size_multiple();
  step({m, m, m});
  core::synchronize(options_.device);
}

TrainingProbe::~TrainingProbe() = default;

int64_t TrainingProbe::gradient_bytes() const {
  int64_t bytes = 0;
  for (const auto& p : parameters_) bytes += tensor_bytes(p.grad());
  return bytes;
}

int64_t TrainingProbe::optimizer_bytes() const {
  int64_t bytes = 0;
  for (const auto& entry : optimizer_->state()) {
    if (auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(entry.second.get())) {
      bytes += tensor_bytes(s->exp_avg()) + tensor_bytes(s->exp_avg_sq()) +
               tensor_bytes(s->max_exp_avg_sq());
    }
  }
  return bytes;
}

torch::Tensor TrainingProbe::loss(const torch::Tensor& image, const torch::Tensor& target) {
  std::vector<torch::Tensor> outputs;
  if (options_.bf16) {
    compat::AutocastState autocast = compat::AutocastState::current();
    autocast.cuda_enabled = true;
    autocast.cuda_dtype = torch::kBFloat16;
    compat::AutocastGuard guard(autocast);
    outputs = model_->forward_deep(image);
  } else {
    outputs = model_->forward_deep(image);
  }
  return train::deep_supervision_loss(outputs, target, train::LossOptions{}).total;
}

void TrainingProbe::step(const Shape3& s) {
  auto opts = torch::TensorOptions().device(options_.device).dtype(torch::kFloat32);
  auto image = torch::randn({options_.batch, config_.in_channels, s[0], s[1], s[2]}, opts);
  auto target = (torch::rand({options_.batch, config_.out_channels, s[0], s[1], s[2]}, opts) > 0.7)
                    .to(torch::kFloat32);
  train::accumulated_step(*optimizer_, parameters_, 1, /*clip_norm=*/0,
                          [&](int64_t) { return loss(image, target); });
}

ProbeResult TrainingProbe::measure(const Shape3& shape, bool release_cache) {
  ProbeResult r;
  r.shape = shape;
  r.parameter_bytes = parameter_bytes_;
  r.gradient_bytes = gradient_bytes();
  r.optimizer_bytes = optimizer_bytes();
  r.input_bytes = (config_.in_channels + config_.out_channels) * voxels(shape) * options_.batch * 4;
  if (options_.device.is_cuda() && release_cache) compat::cuda_empty_cache();
  core::synchronize(options_.device);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    core::PeakMemoryScope scope(options_.device);
    step(shape);
    core::synchronize(options_.device);
    r.peak_bytes = scope.peak_bytes() - baseline_bytes_;
  } catch (const c10::Error& e) {
    if (!is_out_of_memory(e)) throw;
    r.out_of_memory = true;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.out_of_memory) {
    // Drop whatever the failed step left behind so the next probe starts from the same state.
    optimizer_->zero_grad();
    if (options_.device.is_cuda()) compat::cuda_empty_cache();
    return r;
  }
  r.activation_bytes =
      r.peak_bytes - r.parameter_bytes - r.gradient_bytes - r.optimizer_bytes - r.input_bytes;
  r.fits = options_.budget_bytes <= 0 || r.peak_bytes <= options_.budget_bytes;
  return r;
}

ProbeResult probe_fresh(const nn::UNetConfig& config, rev::StackMode mode,
                        const ProbeOptions& options, const Shape3& shape) {
  try {
    TrainingProbe probe(config, mode, options);
    return probe.measure(shape);
  } catch (const c10::Error& e) {
    if (!is_out_of_memory(e)) throw;
  }
  ProbeResult r;
  r.shape = shape;
  r.out_of_memory = true;
  if (options.device.is_cuda()) compat::cuda_empty_cache();
  return r;
}

int64_t TrainingProbe::stored_after_forward(const Shape3& s) {
  auto opts = torch::TensorOptions().device(options_.device).dtype(torch::kFloat32);
  auto image = torch::randn({options_.batch, config_.in_channels, s[0], s[1], s[2]}, opts);
  core::synchronize(options_.device);
  const int64_t before = core::current_bytes(options_.device);
  int64_t stored = 0;
  {
    std::vector<torch::Tensor> outputs = model_->forward_deep(image);
    core::synchronize(options_.device);
    stored = core::current_bytes(options_.device) - before;
  }
  return stored;
}

std::vector<std::pair<std::string, int64_t>> TrainingProbe::stored_by_part(const Shape3& s) {
  auto opts = torch::TensorOptions().device(options_.device).dtype(torch::kFloat32);
  auto image = torch::randn({options_.batch, config_.in_channels, s[0], s[1], s[2]}, opts);
  core::synchronize(options_.device);
  std::vector<std::pair<std::string, int64_t>> parts;
  int64_t last = core::current_bytes(options_.device);
  model_->set_part_observer([&](const std::string& part) {
    core::synchronize(options_.device);
    const int64_t now = core::current_bytes(options_.device);
    parts.emplace_back(part, now - last);
    last = now;
  });
  try {
    std::vector<torch::Tensor> outputs = model_->forward_deep(image);
  } catch (...) {
    model_->set_part_observer(nullptr);
    throw;
  }
  model_->set_part_observer(nullptr);
  return parts;
}

}  // namespace revunet::bench

#include "revunet/rev/coupling.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/instancenorm.h>

namespace revunet::rev {
namespace {

std::string describe_shape(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

template <typename Impl>
bool tracks_running_stats(const torch::nn::Module& m) {
  auto* norm = dynamic_cast<const Impl*>(&m);
  return norm && norm->is_training() && norm->options.track_running_stats();
}

template <typename Impl>
bool is_active_dropout(const torch::nn::Module& m) {
  auto* drop = dynamic_cast<const Impl*>(&m);
  return drop && drop->is_training() && drop->options.p() > 0.0;
}

bool is_hazard(const torch::nn::Module& m) {
  return tracks_running_stats<torch::nn::BatchNorm1dImpl>(m) ||
         tracks_running_stats<torch::nn::BatchNorm2dImpl>(m) ||
         tracks_running_stats<torch::nn::BatchNorm3dImpl>(m) ||
         tracks_running_stats<torch::nn::InstanceNorm3dImpl>(m) ||
         is_active_dropout<torch::nn::DropoutImpl>(m) ||
         is_active_dropout<torch::nn::Dropout3dImpl>(m) ||
         is_active_dropout<torch::nn::AlphaDropoutImpl>(m);
}

}  // namespace

std::string first_recompute_hazard(const torch::nn::Module& module) {
  if (auto* fn = dynamic_cast<const CouplingFunctionImpl*>(&module)) {
    // A function that declares itself safe has made its stateful layers recompute-safe.
    if (fn->recompute_safe()) return "";
  }
  if (is_hazard(module)) return module.name();
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    if (is_hazard(*item.value())) return item.key() + " (" + item.value()->name() + ")";
  }
  return "";
}

bool CouplingFunctionImpl::recompute_safe() const {
  if (is_hazard(*this)) return false;
  for (const auto& child : modules(/*include_self=*/false)) {
    if (is_hazard(*child)) return false;
  }
  return true;
}

SequentialFunctionImpl::SequentialFunctionImpl(torch::nn::Sequential body)
    : body_(register_module("body", std::move(body))) {}

torch::Tensor SequentialFunctionImpl::forward(const torch::Tensor& x) { return body_->forward(x); }

Halves split_channels(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 2, "a coupling needs a batch and a channel dimension, got shape ",
              describe_shape(x));
  TORCH_CHECK(x.size(1) % 2 == 0, "a coupling splits the channels in two halves, but the input has ",
              x.size(1), " channels (an odd count); use an even channel count");
  auto parts = x.chunk(2, 1);
  return {parts[0], parts[1]};
}

torch::Tensor join_channels(const Halves& halves) {
  return torch::cat({halves.first, halves.second}, 1);
}

AdditiveCouplingImpl::AdditiveCouplingImpl(CouplingFunction f, CouplingFunction g)
    : f_(register_module("f", std::move(f))), g_(register_module("g", std::move(g))) {}

torch::Tensor AdditiveCouplingImpl::apply_f(const torch::Tensor& x2) {
  auto out = f_->forward(x2);
  TORCH_CHECK(out.sizes() == x2.sizes(), "coupling function F must keep its input's shape: got ",
              describe_shape(out), " from input ", describe_shape(x2));
  return out;
}

torch::Tensor AdditiveCouplingImpl::apply_g(const torch::Tensor& y1) {
  auto out = g_->forward(y1);
  TORCH_CHECK(out.sizes() == y1.sizes(), "coupling function G must keep its input's shape: got ",
              describe_shape(out), " from input ", describe_shape(y1));
  return out;
}

Halves AdditiveCouplingImpl::forward_halves(const Halves& x) {
  auto y1 = x.first + apply_f(x.second);
  auto y2 = x.second + apply_g(y1);
  return {y1, y2};
}

Halves AdditiveCouplingImpl::inverse_halves(const Halves& y) {
  auto x2 = y.second - apply_g(y.first);
  auto x1 = y.first - apply_f(x2);
  return {x1, x2};
}

torch::Tensor AdditiveCouplingImpl::forward(const torch::Tensor& x) {
  return join_channels(forward_halves(split_channels(x)));
}

torch::Tensor AdditiveCouplingImpl::inverse(const torch::Tensor& y) {
  return join_channels(inverse_halves(split_channels(y)));
}

}  // namespace revunet::rev

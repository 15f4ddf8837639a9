#include "revunet/nn/mbconv.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

namespace revunet::nn {
namespace {

torch::nn::Conv3d pointwise(int64_t in, int64_t out) {
  return torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, 1).bias(false));
}

}  // namespace

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t channels, int64_t squeezed,
                                             ActivationKind activation) {
  gate_ = register_module(
      "gate", torch::nn::Sequential(
                  torch::nn::AdaptiveAvgPool3d(torch::nn::AdaptiveAvgPool3dOptions(1)),
                  torch::nn::Conv3d(torch::nn::Conv3dOptions(channels, squeezed, 1)),
                  make_activation(activation),
                  torch::nn::Conv3d(torch::nn::Conv3dOptions(squeezed, channels, 1)),
                  torch::nn::Sigmoid()));
}

torch::Tensor SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  return x * gate_->forward(x);
}

MBConvImpl::MBConvImpl(const MBConvOptions& options) : options_(options) {
  const auto& o = options_;
  TORCH_CHECK(o.channels() > 0, "MBConv needs a positive channel count, got ", o.channels());
  TORCH_CHECK(o.expansion() >= 1, "MBConv expansion ratio must be >= 1, got ", o.expansion());
  TORCH_CHECK(o.kernel_size() >= 1 && o.kernel_size() % 2 == 1,
              "MBConv kernel size must be odd (so the shape is kept), got ", o.kernel_size());
  const int64_t hidden = o.channels() * o.expansion();
  torch::nn::Sequential body;
  body->push_back("expand", pointwise(o.channels(), hidden));
  body->push_back("expand_norm", make_norm(o.norm(), hidden, o.groups()));
  body->push_back("expand_act", make_activation(o.activation()));
  body->push_back("depthwise",
                  torch::nn::Conv3d(torch::nn::Conv3dOptions(hidden, hidden, o.kernel_size())
                                        .padding(o.kernel_size() / 2)
                                        .groups(hidden)
                                        .bias(false)));
  body->push_back("depthwise_norm", make_norm(o.norm(), hidden, o.groups()));
  body->push_back("depthwise_act", make_activation(o.activation()));
  if (o.squeeze_excitation()) {
    const auto squeezed =
        std::max<int64_t>(1, static_cast<int64_t>(o.channels() * o.se_ratio() + 0.5));
    body->push_back("se", SqueezeExcitation(hidden, squeezed, o.activation()));
  }
  body->push_back("project", pointwise(hidden, o.channels()));
  body->push_back("project_norm", make_norm(o.norm(), o.channels(), o.groups()));
  body_ = register_module("body", body);
}

torch::Tensor MBConvImpl::forward(const torch::Tensor& x) { return body_->forward(x); }

rev::AdditiveCoupling make_mbconv_coupling(int64_t channels, const MBConvOptions& options) {
  TORCH_CHECK(channels % 2 == 0, "a reversible MBConv coupling splits its ", channels,
              " channels in two halves; the channel count must be even");
  auto half = MBConvOptions(options).channels(channels / 2);
  return rev::AdditiveCoupling(MBConv(half).ptr(), MBConv(half).ptr());
}

rev::ReversibleSequence make_mbconv_stack(int64_t channels, int64_t depth,
                                          const MBConvOptions& options, rev::StackMode mode) {
  TORCH_CHECK(depth >= 1, "a stack needs at least one coupling, got depth ", depth);
  rev::ReversibleSequence stack(mode);
  for (int64_t i = 0; i < depth; ++i) stack->push_back(make_mbconv_coupling(channels, options));
  return stack;
}

}  // namespace revunet::nn

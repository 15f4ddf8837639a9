// Small coupling functions and comparison helpers for the reversible-core tests.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "revunet/rev/coupling.h"
#include "revunet/rev/reversible_sequence.h"

namespace revunet::rev::testing {

// conv -> group norm -> SiLU -> conv1 (4x wider inside, like an MBConv): shape-preserving, and in plain autograd
// it stores its activations, which is what the memory tests look for. The memory tests use
// kernel 1 so that LibTorch's CPU im2col workspace of a 3^3 convolution does not dominate.
inline CouplingFunction conv_function(int64_t channels, int64_t kernel = 3) {
  namespace tnn = torch::nn;
  return std::make_shared<SequentialFunctionImpl>(tnn::Sequential(
      tnn::Conv3d(tnn::Conv3dOptions(channels, 4 * channels, kernel).padding(kernel / 2)),
      tnn::GroupNorm(tnn::GroupNormOptions(1, 4 * channels)), tnn::SiLU(),
      tnn::Conv3d(tnn::Conv3dOptions(4 * channels, channels, 1))));
}

inline ReversibleSequence conv_stack(int64_t channels, int64_t depth, StackMode mode,
                                     int64_t kernel = 3) {
  ReversibleSequence stack(mode);
  for (int64_t i = 0; i < depth; ++i) {
    stack->push_back(AdditiveCoupling(conv_function(channels / 2, kernel),
                                      conv_function(channels / 2, kernel)));
  }
  return stack;
}

// Largest |a - b| / max(|b|_max, floor). The floor keeps a gradient that is zero in exact
// arithmetic (rounding noise on both sides) from reading as a large relative error.
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b, double floor = 1e-300) {
  const double scale = std::max(b.abs().max().item<double>(), floor);
  return (a - b).abs().max().item<double>() / scale;
}

struct Gradients {
  torch::Tensor output;
  torch::Tensor input_grad;
  std::vector<torch::Tensor> param_grads;
};

// One forward + backward with a fixed upstream gradient.
inline Gradients run_backward(torch::nn::Module& module,
                              const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                              const torch::Tensor& x0, const torch::Tensor& grad_out) {
  for (auto& p : module.parameters()) p.mutable_grad() = torch::Tensor();
  auto x = x0.detach().clone().requires_grad_(true);
  auto y = forward(x);
  y.backward(grad_out);
  Gradients g{y.detach(), x.grad(), {}};
  for (auto& p : module.parameters()) g.param_grads.push_back(p.grad().detach().clone());
  return g;
}

}  // namespace revunet::rev::testing

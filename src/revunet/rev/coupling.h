// Additive coupling over a channel split: y1 = x1 + F(x2), y2 = x2 + G(y1), and its inverse
// x2 = y2 - G(y1), x1 = y1 - F(x2). F and G map half the channels to a tensor of the same shape.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <utility>

namespace revunet::rev {

// F or G of a coupling: a shape-preserving function of half the channels.
class CouplingFunctionImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;

  // Whether running forward twice (forward pass, then recompute in backward) has no side effects
  // and gives the same result. The default scans the submodules for stateful layers (batch norm in
  // training, dropout); a function that makes such layers recompute-safe overrides this.
  virtual bool recompute_safe() const;
};
using CouplingFunction = std::shared_ptr<CouplingFunctionImpl>;

// Name of the first submodule that makes recomputation unsafe, or "" when there is none.
std::string first_recompute_hazard(const torch::nn::Module& module);

// Adapts any torch::nn::Sequential into a coupling function (handy for tests and custom F/G).
class SequentialFunctionImpl : public CouplingFunctionImpl {
 public:
  explicit SequentialFunctionImpl(torch::nn::Sequential body);
  torch::Tensor forward(const torch::Tensor& x) override;

 private:
  torch::nn::Sequential body_;
};

// The two halves of a coupling's input or output along the channel dimension (dim 1).
struct Halves {
  torch::Tensor first;
  torch::Tensor second;
};
Halves split_channels(const torch::Tensor& x);
torch::Tensor join_channels(const Halves& halves);

class AdditiveCouplingImpl : public torch::nn::Module {
 public:
  AdditiveCouplingImpl(CouplingFunction f, CouplingFunction g);

  // Plain autograd forward: every intermediate is stored by the autograd graph.
  torch::Tensor forward(const torch::Tensor& x);
  Halves forward_halves(const Halves& x);
  // Rebuilds the input from the output (call under NoGradGuard for memory-free use).
  torch::Tensor inverse(const torch::Tensor& y);
  Halves inverse_halves(const Halves& y);

  // F and G with their output shape checked against their input.
  torch::Tensor apply_f(const torch::Tensor& x2);
  torch::Tensor apply_g(const torch::Tensor& y1);

  const CouplingFunction& f() const { return f_; }
  const CouplingFunction& g() const { return g_; }

 private:
  CouplingFunction f_;
  CouplingFunction g_;
};
TORCH_MODULE(AdditiveCoupling);

}  // namespace revunet::rev

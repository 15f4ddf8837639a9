// A stack of additive couplings that can run in three modes with the same weights:
//   plain      - ordinary autograd; every coupling's activations are stored (the reference path);
//   checkpoint - each coupling's input is stored, the coupling is recomputed in backward;
//   reversible - nothing inside the stack is stored: one autograd node for the whole stack keeps
//                only the output and rebuilds each coupling's input from its output in backward.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "revunet/rev/coupling.h"

namespace revunet::rev {

enum class StackMode { kPlain, kCheckpoint, kReversible };
std::string to_string(StackMode mode);
// "plain", "checkpoint" or "reversible"; anything else throws revunet::Error naming the value.
StackMode parse_stack_mode(const std::string& text);

class ReversibleSequenceImpl : public torch::nn::Module {
 public:
  explicit ReversibleSequenceImpl(StackMode mode = StackMode::kReversible);
  ReversibleSequenceImpl(std::vector<AdditiveCoupling> couplings, StackMode mode);

  void push_back(AdditiveCoupling coupling);
  torch::Tensor forward(const torch::Tensor& x);
  // Rebuilds the stack's input from its output, without recording a graph.
  torch::Tensor inverse(const torch::Tensor& y);

  StackMode mode() const { return mode_; }
  void set_mode(StackMode mode) { mode_ = mode; }
  size_t size() const { return couplings_.size(); }
  const std::vector<AdditiveCoupling>& couplings() const { return couplings_; }

 private:
  void check_recompute_safe() const;

  std::vector<AdditiveCoupling> couplings_;
  StackMode mode_;
};
TORCH_MODULE(ReversibleSequence);

// The reversible autograd function itself, for callers that hold couplings outside a module.
torch::Tensor reversible_forward(const std::vector<AdditiveCoupling>& couplings,
                                 const torch::Tensor& x);

}  // namespace revunet::rev

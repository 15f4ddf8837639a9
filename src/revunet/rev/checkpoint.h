// Activation checkpointing for LibTorch C++ (which has no torch::utils::checkpoint): the forward
// keeps only the input; backward reruns the function with grad on and differentiates it.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace revunet::rev {

using TensorFn = std::function<at::Tensor(const at::Tensor&)>;

// Runs fn(x) storing only x. `params` must list every tensor fn reads that needs a gradient
// (usually the module's parameters); their gradients come back through the same engine pass.
// fn must be side-effect free (see CouplingFunctionImpl::recompute_safe). The forward's autocast
// state is replayed during the recompute.
at::Tensor checkpoint(TensorFn fn, const at::Tensor& x, const std::vector<at::Tensor>& params);

}  // namespace revunet::rev

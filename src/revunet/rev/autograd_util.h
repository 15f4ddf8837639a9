// Small helpers shared by the checkpoint and reversible autograd functions.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/csrc/autograd/variable.h>

#include <vector>

namespace revunet::rev::detail {

// Whether autograd would record anything for these inputs right now.
bool needs_graph(const at::Tensor& x, const std::vector<at::Tensor>& params);

// torch::autograd::grad over `inputs` (only those that require grad); entries for the others, and
// for inputs that did not influence `outputs`, come back undefined.
std::vector<at::Tensor> grad_of(const std::vector<at::Tensor>& outputs,
                                const std::vector<at::Tensor>& inputs,
                                const std::vector<at::Tensor>& grad_outputs);

// Adds `g` into `acc` (either may be undefined).
void accumulate(at::Tensor& acc, const at::Tensor& g);

}  // namespace revunet::rev::detail

#include "revunet/rev/autograd_util.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace revunet::rev::detail {

bool needs_graph(const at::Tensor& x, const std::vector<at::Tensor>& params) {
  if (!torch::autograd::GradMode::is_enabled()) return false;
  if (x.requires_grad()) return true;
  for (const auto& p : params) {
    if (p.requires_grad()) return true;
  }
  return false;
}

std::vector<at::Tensor> grad_of(const std::vector<at::Tensor>& outputs,
                                const std::vector<at::Tensor>& inputs,
                                const std::vector<at::Tensor>& grad_outputs) {
  std::vector<at::Tensor> wanted;
  std::vector<size_t> where;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      wanted.push_back(inputs[i]);
      where.push_back(i);
    }
  }
  std::vector<at::Tensor> result(inputs.size());
  if (wanted.empty()) return result;
  auto grads = torch::autograd::grad(outputs, wanted, grad_outputs, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  for (size_t k = 0; k < where.size(); ++k) result[where[k]] = grads[k];
  return result;
}

void accumulate(at::Tensor& acc, const at::Tensor& g) {
  if (!g.defined()) return;
  if (!acc.defined()) {
    acc = g;
  } else {
    acc = acc + g;
  }
}

}  // namespace revunet::rev::detail

#include "revunet/rev/checkpoint.h"

#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/custom_class.h>

#include "revunet/core/compat.h"
#include "revunet/rev/autograd_util.h"

namespace revunet::rev {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs besides tensors: the function and the forward's autocast state.
struct CheckpointState : torch::CustomClassHolder {
  TensorFn fn;
  compat::AutocastState autocast;
};

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x,
                               c10::intrusive_ptr<CheckpointState> state, at::TensorList params) {
    state->autocast = compat::AutocastState::current();
    auto out = state->fn(x);
    ctx->save_for_backward({x});
    ctx->saved_data["state"] = c10::IValue::make_capsule(std::move(state));
    ctx->saved_data["params"] = params.vec();
    return {out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    auto state =
        c10::static_intrusive_pointer_cast<CheckpointState>(ctx->saved_data["state"].toCapsule());
    auto params = ctx->saved_data["params"].toTensorVector();

    auto x = saved[0].detach().requires_grad_(saved[0].requires_grad());
    at::Tensor out;
    {
      torch::autograd::AutoGradMode grad_on(true);
      compat::AutocastGuard replay(state->autocast, /*cache_casts=*/false);
      out = state->fn(x);
    }
    std::vector<at::Tensor> inputs{x};
    inputs.insert(inputs.end(), params.begin(), params.end());
    auto grads = detail::grad_of({out}, inputs, {grad_out[0]});

    variable_list result{grads[0], at::Tensor()};  // x, state
    result.insert(result.end(), grads.begin() + 1, grads.end());
    return result;
  }
};

}  // namespace

at::Tensor checkpoint(TensorFn fn, const at::Tensor& x, const std::vector<at::Tensor>& params) {
  if (!detail::needs_graph(x, params)) return fn(x);
  auto state = c10::make_intrusive<CheckpointState>();
  state->fn = std::move(fn);
  return CheckpointFunction::apply(x, std::move(state), at::TensorList(params))[0];
}

}  // namespace revunet::rev

#include "revunet/rev/reversible_sequence.h"

#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/custom_class.h>

#include "revunet/core/compat.h"
#include "revunet/core/error.h"
#include "revunet/rev/autograd_util.h"
#include "revunet/rev/checkpoint.h"

namespace revunet::rev {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::vector<at::Tensor> parameters_of(const CouplingFunction& fn) {
  return fn->parameters();
}

// out = a + b, where `out` already holds `a` when `in_place` (b may be undefined: no term).
void add_into(at::Tensor& out, const at::Tensor& a, const at::Tensor& b, bool in_place) {
  if (in_place) {
    if (b.defined()) out.add_(b);
  } else if (b.defined()) {
    at::add_out(out, a, b);
  } else {
    out.copy_(a);
  }
}

// An uninitialised gradient buffer for a whole coupling input (both channel halves).
at::Tensor state_full_like(const at::Tensor& half, const Halves& grad_halves) {
  auto sizes = half.sizes().vec();
  sizes[1] = grad_halves.first.size(1) + grad_halves.second.size(1);
  return at::empty(sizes, grad_halves.first.options());
}

// Everything backward needs that is not a gradient: the couplings, the output held as a detached
// alias (an alias of the returned tensor would make a reference cycle through its grad_fn), the
// output's version when forward ended, and the forward's autocast state.
struct StackState : torch::CustomClassHolder {
  std::vector<AdditiveCoupling> couplings;
  at::Tensor output_alias;
  uint32_t output_version = 0;
  bool consumed = false;
  compat::AutocastState autocast;
};

struct ReversibleFunction : public torch::autograd::Function<ReversibleFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x,
                               c10::intrusive_ptr<StackState> state, at::TensorList /*params*/) {
    // Autograd is off here: no coupling stores anything.
    state->autocast = compat::AutocastState::current();
    Halves h = split_channels(x);
    for (auto& coupling : state->couplings) h = coupling->forward_halves(h);
    auto out = join_channels(h);
    state->output_alias = out.detach();  // shares storage and version counter, not the graph
    state->output_version = state->output_alias._version();
    ctx->saved_data["state"] = c10::IValue::make_capsule(std::move(state));
    return {out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto state =
        c10::static_intrusive_pointer_cast<StackState>(ctx->saved_data["state"].toCapsule());
    TORCH_CHECK(!state->consumed,
                "ReversibleSequence: backward ran a second time through the same forward pass. "
                "A reversible stack rebuilds its activations once and keeps nothing for a second "
                "pass; run forward again (retain_graph is not supported in reversible mode)");
    TORCH_CHECK(state->output_alias._version() == state->output_version,
                "ReversibleSequence: the stack's output was modified in place after forward "
                "(version ",
                state->output_alias._version(), ", expected ", state->output_version,
                "); the backward pass rebuilds the input from that output, so it must not change. "
                "Clone the output before modifying it");

    Halves y = split_channels(state->output_alias);
    Halves dy = split_channels(grad_out[0]);
    state->output_alias = at::Tensor();  // release our hold on the output as early as possible
    state->consumed = true;

    // Parameter gradients, in the order the forward received the parameters.
    std::vector<std::vector<at::Tensor>> f_grads(state->couplings.size());
    std::vector<std::vector<at::Tensor>> g_grads(state->couplings.size());

    compat::AutocastGuard replay(state->autocast, /*cache_casts=*/false);
    // The last block's output and output gradient belong to the caller and the engine. From
    // there on the carry is ours and updated in place: the rebuilt input (x1, x2) and one
    // gradient buffer that ends as the stack's input gradient. Nothing else outlives a block.
    bool own_carry = false;
    at::Tensor grad;  // dL/d(current block input), both halves
    for (size_t i = state->couplings.size(); i-- > 0;) {
      auto& c = state->couplings[i];

      // G once: its value rebuilds x2, its graph gives dL/dy1 (through G) and G's gradients.
      auto y1 = y.first.detach().requires_grad_(true);
      at::Tensor gy1;
      {
        torch::autograd::AutoGradMode grad_on(true);
        gy1 = c->apply_g(y1);
      }
      std::vector<at::Tensor> g_inputs{y1};
      auto g_params = parameters_of(c->g());
      g_inputs.insert(g_inputs.end(), g_params.begin(), g_params.end());
      auto g_result = detail::grad_of({gy1}, g_inputs, {dy.second});
      g_grads[i].assign(g_result.begin() + 1, g_result.end());
      gy1 = gy1.detach();
      at::Tensor x2 = own_carry ? y.second.sub_(gy1) : y.second - gy1;
      gy1 = at::Tensor();
      y.second = at::Tensor();
      if (!grad.defined()) grad = state_full_like(y.first, dy);
      at::Tensor dx1 = grad.narrow(1, 0, dy.first.size(1));
      add_into(dx1, dy.first, g_result[0], own_carry);  // dL/dx1 = dL/dy1 + dG/dy1^T dL/dy2
      g_result.clear();

      // F once: its value rebuilds x1, its graph gives dL/dx2 (through F) and F's gradients.
      auto x2_leaf = x2.detach().requires_grad_(true);
      at::Tensor fx2;
      {
        torch::autograd::AutoGradMode grad_on(true);
        fx2 = c->apply_f(x2_leaf);
      }
      std::vector<at::Tensor> f_inputs{x2_leaf};
      auto f_params = parameters_of(c->f());
      f_inputs.insert(f_inputs.end(), f_params.begin(), f_params.end());
      auto f_result = detail::grad_of({fx2}, f_inputs, {dx1});
      f_grads[i].assign(f_result.begin() + 1, f_result.end());
      fx2 = fx2.detach();
      // The first block's input is not needed by anyone: skip rebuilding x1 there.
      at::Tensor x1;
      if (i > 0) x1 = own_carry ? y.first.sub_(fx2) : y.first - fx2;
      fx2 = at::Tensor();
      y.first = at::Tensor();
      at::Tensor dx2 = grad.narrow(1, dx1.size(1), dy.second.size(1));
      add_into(dx2, dy.second, f_result[0], own_carry);  // dL/dx2 = dL/dy2 + dF/dx2^T dL/dx1
      f_result.clear();

      y = {x1, x2};
      dy = {dx1, dx2};
      own_carry = true;
    }

    variable_list result{grad, at::Tensor()};  // x, state
    for (size_t i = 0; i < state->couplings.size(); ++i) {
      result.insert(result.end(), f_grads[i].begin(), f_grads[i].end());
      result.insert(result.end(), g_grads[i].begin(), g_grads[i].end());
    }
    return result;
  }
};

}  // namespace

std::string to_string(StackMode mode) {
  switch (mode) {
    case StackMode::kPlain:
      return "plain";
    case StackMode::kCheckpoint:
      return "checkpoint";
    case StackMode::kReversible:
      return "reversible";
  }
  return "unknown";
}

StackMode parse_stack_mode(const std::string& text) {
  if (text == "plain") return StackMode::kPlain;
  if (text == "checkpoint") return StackMode::kCheckpoint;
  if (text == "reversible") return StackMode::kReversible;
  fail("mode '" + text + "'", "expected plain, checkpoint or reversible");
}

torch::Tensor reversible_forward(const std::vector<AdditiveCoupling>& couplings,
                                 const torch::Tensor& x) {
  TORCH_CHECK(!couplings.empty(), "a reversible stack needs at least one coupling");
  std::vector<at::Tensor> params;
  for (const auto& c : couplings) {
    auto f = parameters_of(c->f());
    auto g = parameters_of(c->g());
    params.insert(params.end(), f.begin(), f.end());
    params.insert(params.end(), g.begin(), g.end());
  }
  if (!detail::needs_graph(x, params)) {
    // Inference: run block by block; nothing is recorded, so nothing is stored.
    Halves h = split_channels(x);
    for (auto c : couplings) h = c->forward_halves(h);
    return join_channels(h);
  }
  auto state = c10::make_intrusive<StackState>();
  state->couplings = couplings;
  return ReversibleFunction::apply(x, std::move(state), at::TensorList(params))[0];
}

ReversibleSequenceImpl::ReversibleSequenceImpl(StackMode mode) : mode_(mode) {}

ReversibleSequenceImpl::ReversibleSequenceImpl(std::vector<AdditiveCoupling> couplings,
                                               StackMode mode)
    : mode_(mode) {
  for (auto& c : couplings) push_back(std::move(c));
}

void ReversibleSequenceImpl::push_back(AdditiveCoupling coupling) {
  couplings_.push_back(register_module(std::to_string(couplings_.size()), std::move(coupling)));
}

void ReversibleSequenceImpl::check_recompute_safe() const {
  for (size_t i = 0; i < couplings_.size(); ++i) {
    for (const auto* which : {"f", "g"}) {
      const auto& fn = which[0] == 'f' ? couplings_[i]->f() : couplings_[i]->g();
      if (!fn->recompute_safe()) {
        TORCH_CHECK(false, "ReversibleSequence in ", to_string(mode_), " mode: coupling ", i, ".",
                    which, " contains a stateful layer (", first_recompute_hazard(*fn),
                    ") that would change state when recomputed in backward; use group or "
                    "instance norm without running stats and no dropout, make the function "
                    "recompute-safe, or run this stack in plain mode");
      }
    }
  }
}

torch::Tensor ReversibleSequenceImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(!couplings_.empty(), "ReversibleSequence has no couplings");
  if (mode_ == StackMode::kPlain) {
    Halves h = split_channels(x);
    for (auto& c : couplings_) h = c->forward_halves(h);
    return join_channels(h);
  }
  if (is_training()) check_recompute_safe();
  if (mode_ == StackMode::kCheckpoint) {
    auto h = x;
    for (auto& c : couplings_) {
      h = checkpoint([c](const at::Tensor& in) mutable { return c->forward(in); }, h,
                     c->parameters());
    }
    return h;
  }
  return reversible_forward(couplings_, x);
}

torch::Tensor ReversibleSequenceImpl::inverse(const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  Halves h = split_channels(y);
  for (size_t i = couplings_.size(); i-- > 0;) h = couplings_[i]->inverse_halves(h);
  return join_channels(h);
}

}  // namespace revunet::rev

"""Additive couplings and a stack of them in three modes (src/revunet/rev/).

  plain       ordinary autograd; every coupling's activations are stored;
  checkpoint  torch.utils.checkpoint per coupling: its input is stored, it is recomputed in backward;
  reversible  one autograd Function per stack keeps only the stack's output; backward rebuilds
              each coupling's input from its output, running G once and F once per coupling.

y1 = x1 + F(x2), y2 = x2 + G(y1); inverse x2 = y2 - G(y1), x1 = y1 - F(x2).
"""

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class AdditiveCoupling(nn.Module):
    def __init__(self, f: nn.Module, g: nn.Module):
        super().__init__()
        self.f = f
        self.g = g

    def forward_halves(self, x1, x2):
        y1 = x1 + self.f(x2)
        return y1, x2 + self.g(y1)

    def inverse_halves(self, y1, y2):
        x2 = y2 - self.g(y1)
        return y1 - self.f(x2), x2

    def forward(self, x):
        x1, x2 = _split(x)
        return torch.cat(self.forward_halves(x1, x2), 1)

    def inverse(self, y):
        y1, y2 = _split(y)
        return torch.cat(self.inverse_halves(y1, y2), 1)


def _split(x):
    if x.dim() < 2 or x.shape[1] % 2:
        raise ValueError(f"a coupling splits the channels in two halves; got shape "
                         f"{tuple(x.shape)}")
    return x.chunk(2, 1)


# The autocast state of the forward, replayed during the recompute: backward runs with autocast
# off. torch 2.4 takes the device type as an argument; 1.13 has one function per device.
def _autocast_state():
    state = []
    for device in ("cuda", "cpu"):
        if hasattr(torch, "get_autocast_dtype"):
            enabled = torch.is_autocast_enabled(device)
            dtype = torch.get_autocast_dtype(device)
        elif device == "cuda":
            enabled, dtype = torch.is_autocast_enabled(), torch.get_autocast_gpu_dtype()
        else:
            enabled, dtype = torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()
        if enabled:
            state.append((device, dtype))
    return state


class _Replay:
    """Re-enters the forward's autocast state with the cast cache off: the cache would keep the
    low-precision copy of every rebuilt input (a leaf that requires grad) alive for the stack."""

    def __init__(self, state):
        self.contexts = [torch.autocast(device_type=d, dtype=t, cache_enabled=False)
                         for d, t in state]

    def __enter__(self):
        for c in self.contexts:
            c.__enter__()

    def __exit__(self, *exc):
        for c in reversed(self.contexts):
            c.__exit__(*exc)


def _add_into(out, a, b, in_place):
    """out = a + b, where `out` already holds `a` when in_place (b None: no term)."""
    if in_place:
        if b is not None:
            out.add_(b)
    elif b is not None:
        torch.add(a, b, out=out)
    else:
        out.copy_(a)


def _grad(output, inputs, grad_output):
    """Gradients of output w.r.t. inputs; None for inputs that do not require grad."""
    wanted = [i for i in inputs if i.requires_grad]
    got = iter(torch.autograd.grad(output, wanted, grad_output, allow_unused=True))
    return [next(got) if i.requires_grad else None for i in inputs]


class _ReversibleFunction(torch.autograd.Function):
    """One autograd node for a whole stack: the parameters are inputs, their gradients outputs."""

    @staticmethod
    def forward(ctx, x, couplings, *params):
        ctx.couplings = couplings
        ctx.autocast = _autocast_state()
        x1, x2 = _split(x)
        for c in couplings:
            x1, x2 = c.forward_halves(x1, x2)
        out = torch.cat([x1, x2], 1)
        # A detached alias, not save_for_backward: a saved tensor lives until backward returns,
        # the alias is dropped as soon as the last coupling's input is rebuilt (one coupling
        # output less at the peak). It has no grad_fn, so no reference cycle; its version counter
        # is the output's, checked below as autograd would.
        ctx.output = out.detach()
        ctx.output_version = ctx.output._version
        return out

    @staticmethod
    def backward(ctx, grad_out):
        out = ctx.output
        if out is None:
            raise RuntimeError("ReversibleSequence: backward ran a second time through the same "
                               "forward pass; a reversible stack keeps nothing for a second pass "
                               "(retain_graph is not supported in reversible mode)")
        if out._version != ctx.output_version:
            raise RuntimeError(f"ReversibleSequence: the stack's output was modified in place "
                               f"after forward (version {out._version}, expected "
                               f"{ctx.output_version}); backward rebuilds the input from it. "
                               f"Clone the output before modifying it")
        ctx.output = None
        couplings = ctx.couplings
        y1, y2 = _split(out)
        dy1, dy2 = _split(grad_out)
        del out
        f_grads = [None] * len(couplings)
        g_grads = [None] * len(couplings)
        # The last coupling's output and output gradient belong to the caller and the engine;
        # from there on the carry is ours and is updated in place (src/revunet/rev/
        # reversible_sequence.cpp has the same walk, with the reasons).
        own = False
        grad = None
        with _Replay(ctx.autocast):
            for i in range(len(couplings) - 1, -1, -1):
                c = couplings[i]
                # G once: its value rebuilds x2, its graph gives dL/dy1 through G and G's grads.
                y1_leaf = y1.detach().requires_grad_(True)
                with torch.enable_grad():
                    gy1 = c.g(y1_leaf)
                g_params = list(c.g.parameters())
                g_result = _grad(gy1, [y1_leaf] + g_params, dy2)
                g_grads[i] = g_result[1:]
                gy1 = gy1.detach()
                x2 = y2.sub_(gy1) if own else y2 - gy1
                del gy1, y2
                if grad is None:
                    shape = list(y1.shape)
                    shape[1] = dy1.shape[1] + dy2.shape[1]
                    grad = torch.empty(shape, dtype=dy1.dtype, device=dy1.device)
                dx1 = grad.narrow(1, 0, dy1.shape[1])
                _add_into(dx1, dy1, g_result[0], own)  # dL/dx1 = dL/dy1 + dG/dy1^T dL/dy2
                del g_result

                # F once: its value rebuilds x1, its graph gives dL/dx2 through F and F's grads.
                x2_leaf = x2.detach().requires_grad_(True)
                with torch.enable_grad():
                    fx2 = c.f(x2_leaf)
                f_params = list(c.f.parameters())
                f_result = _grad(fx2, [x2_leaf] + f_params, dx1)
                f_grads[i] = f_result[1:]
                fx2 = fx2.detach()
                # The first coupling's input is needed by no one: skip rebuilding it.
                x1 = (y1.sub_(fx2) if own else y1 - fx2) if i > 0 else None
                del fx2, y1
                dx2 = grad.narrow(1, dx1.shape[1], dy2.shape[1])
                _add_into(dx2, dy2, f_result[0], own)  # dL/dx2 = dL/dy2 + dF/dx2^T dL/dx1
                del f_result

                y1, y2 = x1, x2
                dy1, dy2 = dx1, dx2
                own = True
        ctx.couplings = None
        result = [grad, None]
        for i in range(len(couplings)):
            result += f_grads[i] + g_grads[i]
        return tuple(result)


class ReversibleSequence(nn.ModuleList):
    """Couplings registered as "0", "1", ... (as revunet's ReversibleSequence) run in `mode`."""

    def __init__(self, couplings, mode: str = "reversible"):
        super().__init__(couplings)
        self.mode = mode

    def _parameters_in_order(self):
        params = []
        for c in self:
            params += list(c.f.parameters()) + list(c.g.parameters())
        return params

    def forward(self, x):
        params = self._parameters_in_order()
        recording = (torch.is_grad_enabled() and not torch.jit.is_tracing()
                     and not torch.onnx.is_in_onnx_export()
                     and (x.requires_grad or any(p.requires_grad for p in params)))
        if self.mode == "plain" or not recording:
            # Inference, tracing (ONNX export) and plain mode: couplings one after the other.
            x1, x2 = _split(x)
            for c in self:
                x1, x2 = c.forward_halves(x1, x2)
            return torch.cat([x1, x2], 1)
        if self.mode == "checkpoint":
            h = x
            for c in self:
                h = checkpoint(c, h, use_reentrant=False, preserve_rng_state=False)
            return h
        if self.mode != "reversible":
            raise ValueError(f"mode '{self.mode}': expected plain, checkpoint or reversible")
        return _ReversibleFunction.apply(x, list(self), *params)

    @torch.no_grad()
    def inverse(self, y):
        y1, y2 = _split(y)
        for c in reversed(list(self)):
            y1, y2 = c.inverse_halves(y1, y2)
        return torch.cat([y1, y2], 1)

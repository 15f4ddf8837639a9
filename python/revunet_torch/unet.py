"""The U-Net of revunet (src/revunet/nn/unet.cpp), built from the same config.

  x -> stem -> enc0 ------------------------------(skip)--> merge -> dec0 -> head -> logits
                \\-> down0 -> enc1 ---------(skip)--> merge -> dec1 -> up0 /
                              \\-> down1 -> enc2 (bottleneck) -> up1 /

Stages are stacks of MBConv couplings (reversible, checkpointed or plain); everything else stores
its activations as usual. Submodules are registered under revunet's names in revunet's order, so
state_dict() keys equal the names `revunet export` writes.
"""

from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from .config import MODES, UNetConfig, config_from_json, stage_names
from .mbconv import MBConv, make_activation, make_norm
from .reversible import AdditiveCoupling, ReversibleSequence


def _conv_norm_act(c: UNetConfig, cin: int, cout: int, stride: int) -> nn.Sequential:
    # No conv bias: the norm removes it anyway.
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         make_norm(c.norm, cout, c.groups), make_activation(c.activation))


def _upsampling(c: UNetConfig, cin: int, cout: int) -> nn.Sequential:
    if c.upsampling == "transposed_conv":
        return nn.Sequential(nn.ConvTranspose3d(cin, cout, 2, stride=2, bias=True))
    # revunet runs the 1x1x1 conv BEFORE the trilinear interpolation (both are linear and the
    # trilinear weights sum to one, so the result is that of interpolate-then-conv, at 1/8 of the
    # conv's memory); the same order here gives the same rounding.
    return nn.Sequential(nn.Conv3d(cin, cout, 1, bias=True),
                         nn.Upsample(scale_factor=2.0, mode="trilinear", align_corners=False))


def _stack(c: UNetConfig, width: int, couplings: int, mode: str) -> ReversibleSequence:
    half = width // 2

    def mbconv():
        return MBConv(half, c.expansion, c.kernel_size, c.norm, c.groups, c.activation,
                      c.squeeze_excitation)

    return ReversibleSequence([AdditiveCoupling(mbconv(), mbconv()) for _ in range(couplings)],
                              mode)


def _ceil_div(a: int, b: int) -> int:
    return (a + b - 1) // b


def _crop(t, sizes):
    if list(t.shape[2:]) == list(sizes):
        return t
    return t[:, :, :sizes[0], :sizes[1], :sizes[2]].contiguous()


class UNet(nn.Module):
    """forward(x) -> logits [B, out_channels, X, Y, Z]; forward_deep(x) -> [full, 1/2, 1/4, ...]."""

    def __init__(self, config: Union[UNetConfig, dict], mode: Optional[str] = None):
        super().__init__()
        if isinstance(config, dict):
            config = config_from_json(config)
        self.config = config
        c = config
        w = c.widths
        levels = c.levels
        self.stem = _conv_norm_act(c, c.in_channels, w[0], 1)
        for l in range(levels):
            self.add_module(f"enc{l}", _stack(c, w[l], c.encoder_couplings[l],
                                              c.stage_mode(f"enc{l}")))
            if l + 1 < levels:
                self.add_module(f"down{l}", _conv_norm_act(c, w[l], w[l + 1], 2))
        # Decoder modules deepest level first, the order they run in (and revunet registers).
        for l in range(levels - 2, -1, -1):
            self.add_module(f"up{l}", _upsampling(c, w[l + 1], w[l]))
            if c.skip == "concat":
                self.add_module(f"merge{l}", nn.Conv3d(2 * w[l], w[l], 1, bias=True))
            self.add_module(f"dec{l}", _stack(c, w[l], c.decoder_couplings[l],
                                              c.stage_mode(f"dec{l}")))
            if c.deep_supervision and l >= 1:
                self.add_module(f"deep_head{l}", nn.Conv3d(w[l], c.out_channels, 1, bias=True))
        self.head = nn.Conv3d(w[0], c.out_channels, 1, bias=True)
        if mode is not None:
            self.set_mode(mode)

    def stage(self, name: str) -> ReversibleSequence:
        if name not in stage_names(self.config.levels):
            raise ValueError(f"stage '{name}': no such stage; stages are "
                             f"{', '.join(stage_names(self.config.levels))}")
        return getattr(self, name)

    def set_mode(self, mode: str):
        """Runs every stage in `mode` (clears per-stage overrides)."""
        if mode not in MODES:
            raise ValueError(f"mode '{mode}': expected plain, checkpoint or reversible")
        for name in stage_names(self.config.levels):
            self.stage(name).mode = mode
        self.config.mode = mode
        self.config.stage_modes = {}
        return self

    def set_stage_mode(self, name: str, mode: str):
        if mode not in MODES:
            raise ValueError(f"mode '{mode}': expected plain, checkpoint or reversible")
        self.stage(name).mode = mode
        if mode == self.config.mode:
            self.config.stage_modes.pop(name, None)
        else:
            self.config.stage_modes[name] = mode
        return self

    def forward(self, x):
        return self._run(x, deep=False)[0]

    def forward_deep(self, x) -> List[torch.Tensor]:
        """Full-resolution logits, then (deep supervision) decoder levels 1 .. levels-2 at 1/2,
        1/4, ... resolution, each cropped to ceil(size / 2^level)."""
        return self._run(x, deep=True)

    def _run(self, x, deep: bool) -> List[torch.Tensor]:
        c = self.config
        if x.dim() != 5 or x.shape[1] != c.in_channels:
            raise ValueError(f"UNet expects input [B, {c.in_channels}, X, Y, Z], got "
                             f"{tuple(x.shape)}")
        sizes = [int(s) for s in x.shape[2:]]
        m = c.size_multiple()
        h = x
        if any(s % m for s in sizes):
            pad = []  # (before, after) pairs from the last dimension on: zeros at the far end
            for s in reversed(sizes):
                pad += [0, _ceil_div(s, m) * m - s]
            h = F.pad(x, pad)
        h = self.stem(h)
        skips = []
        for l in range(c.levels):
            h = getattr(self, f"enc{l}")(h)
            if l + 1 < c.levels:
                skips.append(h)
                h = getattr(self, f"down{l}")(h)
        outputs = [None]
        for l in range(c.levels - 2, -1, -1):
            h = getattr(self, f"up{l}")(h)
            if c.skip == "concat":
                h = getattr(self, f"merge{l}")(torch.cat([h, skips[l]], 1))
            else:
                h = h + skips[l]
            skips[l] = None
            h = getattr(self, f"dec{l}")(h)
            if deep and c.deep_supervision and l >= 1:
                scale = 1 << l
                outputs.append(_crop(getattr(self, f"deep_head{l}")(h),
                                     [_ceil_div(s, scale) for s in sizes]))
        outputs[0] = _crop(self.head(h), sizes)
        # Deep heads were collected deepest first; callers want decreasing resolution.
        outputs[1:] = outputs[1:][::-1]
        return outputs

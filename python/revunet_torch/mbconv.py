"""Norms, activations and the MBConv used as F and G (src/revunet/nn/layers.cpp, mbconv.cpp).

Module and parameter names follow revunet's exactly ("body.expand", "body.se.gate.1", ...), so
revunet's exported weights load with load_state_dict(strict=True).
"""

from collections import OrderedDict

from torch import nn


def group_count(channels: int, wanted: int) -> int:
    """The largest group count <= wanted that divides channels (nn::group_count)."""
    if channels <= 0 or wanted <= 0:
        raise ValueError(f"group_count needs positive channels and groups, got {channels} and "
                         f"{wanted}")
    for g in range(min(channels, wanted), 1, -1):
        if channels % g == 0:
            return g
    return 1


def make_norm(kind: str, channels: int, groups: int) -> nn.Module:
    """Stateless norms only: a recompute in backward has no side effects."""
    if kind == "instance":
        return nn.InstanceNorm3d(channels, affine=True, track_running_stats=False)
    if kind == "group":
        return nn.GroupNorm(group_count(channels, groups), channels)
    raise ValueError(f"norm '{kind}': expected group or instance")


def make_activation(kind: str) -> nn.Module:
    if kind == "silu":
        return nn.SiLU()
    if kind == "relu6":
        return nn.ReLU6()
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.01)
    raise ValueError(f"activation '{kind}': expected silu, relu6 or leaky_relu")


class SqueezeExcitation(nn.Module):
    """Channel weights from a global average, applied multiplicatively."""

    def __init__(self, channels: int, squeezed: int, activation: str):
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool3d(1),
            nn.Conv3d(channels, squeezed, 1),
            make_activation(activation),
            nn.Conv3d(squeezed, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return x * self.gate(x)


class MBConv(nn.Module):
    """1x1x1 expand -> norm -> act -> depthwise k^3 -> norm -> act -> [SE] -> 1x1x1 project -> norm.

    Shape-preserving: `channels` in, `channels` out.
    """

    def __init__(self, channels: int, expansion: int = 4, kernel_size: int = 3,
                 norm: str = "group", groups: int = 8, activation: str = "silu",
                 squeeze_excitation: bool = False, se_ratio: float = 0.25):
        super().__init__()
        if channels <= 0 or expansion < 1 or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"MBConv: channels {channels}, expansion {expansion}, kernel size "
                             f"{kernel_size} (needs positive channels, expansion >= 1, odd kernel)")
        hidden = channels * expansion
        layers = [
            ("expand", nn.Conv3d(channels, hidden, 1, bias=False)),
            ("expand_norm", make_norm(norm, hidden, groups)),
            ("expand_act", make_activation(activation)),
            ("depthwise", nn.Conv3d(hidden, hidden, kernel_size, padding=kernel_size // 2,
                                    groups=hidden, bias=False)),
            ("depthwise_norm", make_norm(norm, hidden, groups)),
            ("depthwise_act", make_activation(activation)),
        ]
        if squeeze_excitation:
            # C++ rounds with static_cast<int64_t>(channels * ratio + 0.5).
            squeezed = max(1, int(channels * se_ratio + 0.5))
            layers.append(("se", SqueezeExcitation(hidden, squeezed, activation)))
        layers += [
            ("project", nn.Conv3d(hidden, channels, 1, bias=False)),
            ("project_norm", make_norm(norm, channels, groups)),
        ]
        self.body = nn.Sequential(OrderedDict(layers))

    def forward(self, x):
        return self.body(x)

"""The model config (revunet's configs/*.json or the resolved JSON `revunet export` writes).

Mirrors src/revunet/nn/unet_config.cpp: the same fields, defaults and shorthands (base_width
doubling capped by max_width, one coupling count for every stage). Parsing is strict in the same
way, and one more way: a field or value revunet knows but this twin does not implement is refused
with a ConfigError rather than silently building a different network.
"""

import json
from dataclasses import dataclass, field
from typing import Dict, List

MODES = ("plain", "checkpoint", "reversible")
NORMS = ("group", "instance")
ACTIVATIONS = ("silu", "relu6", "leaky_relu")
UPSAMPLINGS = ("transposed_conv", "trilinear")
SKIPS = ("add", "concat")
DOWNSAMPLINGS = ("strided_conv",)

KNOWN_FIELDS = (
    "in_channels", "out_channels", "levels", "widths", "base_width", "max_width",
    "encoder_couplings", "decoder_couplings", "expansion", "kernel_size", "norm", "groups",
    "activation", "squeeze_excitation", "downsampling", "upsampling", "skip",
    "deep_supervision", "mode", "stage_modes", "patch",
)


class ConfigError(ValueError):
    """A config this twin cannot build exactly as revunet would; the message names the field."""


@dataclass
class UNetConfig:
    """Fully resolved: one width and one coupling count per stage (as nn::UNetConfig)."""

    in_channels: int = 4
    out_channels: int = 3
    levels: int = 4
    widths: List[int] = field(default_factory=lambda: [16, 32, 64, 128])
    encoder_couplings: List[int] = field(default_factory=lambda: [1, 1, 1, 1])
    decoder_couplings: List[int] = field(default_factory=lambda: [1, 1, 1])
    expansion: int = 4
    kernel_size: int = 3
    norm: str = "group"
    groups: int = 8
    activation: str = "silu"
    squeeze_excitation: bool = False
    downsampling: str = "strided_conv"
    upsampling: str = "transposed_conv"
    skip: str = "add"
    deep_supervision: bool = False
    mode: str = "reversible"
    stage_modes: Dict[str, str] = field(default_factory=dict)
    patch: List[int] = field(default_factory=lambda: [128, 128, 128])

    def size_multiple(self) -> int:
        """Spatial sizes are padded to multiples of this: 2^(levels-1)."""
        return 1 << (self.levels - 1)

    def stage_mode(self, stage: str) -> str:
        return self.stage_modes.get(stage, self.mode)

    def to_json(self) -> dict:
        return {
            "in_channels": self.in_channels, "out_channels": self.out_channels,
            "levels": self.levels, "widths": list(self.widths),
            "encoder_couplings": list(self.encoder_couplings),
            "decoder_couplings": list(self.decoder_couplings), "expansion": self.expansion,
            "kernel_size": self.kernel_size, "norm": self.norm, "groups": self.groups,
            "activation": self.activation, "squeeze_excitation": self.squeeze_excitation,
            "downsampling": self.downsampling, "upsampling": self.upsampling, "skip": self.skip,
            "deep_supervision": self.deep_supervision, "mode": self.mode,
            "stage_modes": dict(self.stage_modes), "patch": list(self.patch),
        }


def stage_names(levels: int) -> List[str]:
    """enc0 .. enc{levels-1} (the last is the bottleneck), then dec{levels-2} .. dec0."""
    return [f"enc{l}" for l in range(levels)] + [f"dec{l}" for l in range(levels - 2, -1, -1)]


class _Reader:
    def __init__(self, obj: dict, source: str):
        self.obj = obj
        self.source = source

    def bad(self, name: str, problem: str):
        raise ConfigError(f"{self.source}: field '{name}' {problem}")

    def integer(self, name, value, minimum=1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            self.bad(name, f"must be {what}, got {json.dumps(value)}")
        return value

    def get_int(self, name, default, minimum=1) -> int:
        return self.integer(name, self.obj[name], minimum) if name in self.obj else default

    def get_bool(self, name, default) -> bool:
        if name not in self.obj:
            return default
        if not isinstance(self.obj[name], bool):
            self.bad(name, f"must be true or false, got {json.dumps(self.obj[name])}")
        return self.obj[name]

    def choice(self, name, value, choices) -> str:
        if isinstance(value, str) and value in choices:
            return value
        known = ", ".join(choices)
        self.bad(name, f"must be one of {known}, got {json.dumps(value)}; revunet_torch builds "
                       f"only these (a value newer revunet versions know is refused rather than "
                       f"built as something else)")

    def get_choice(self, name, default, choices) -> str:
        return self.choice(name, self.obj[name], choices) if name in self.obj else default

    def per_stage(self, name, count, minimum=1) -> List[int]:
        value = self.obj[name]
        if isinstance(value, list):
            if len(value) != count:
                self.bad(name, f"must list one value per stage ({count}), got {len(value)} in "
                               f"{json.dumps(value)}")
            return [self.integer(name, v, minimum) for v in value]
        return [self.integer(name, value, minimum)] * count


def _reject_unknown(obj: dict, source: str):
    for key, value in obj.items():
        if key.startswith("_") or key in KNOWN_FIELDS:
            continue
        raise ConfigError(
            f"{source}: field '{key}' (= {json.dumps(value)}) is not supported by revunet_torch; "
            f"it builds the U-Net of the fields {', '.join(KNOWN_FIELDS)}. A config using other "
            f"fields (a newer revunet's architecture or norm) is refused rather than built as a "
            f"different network")


def _widths(r: _Reader, levels: int) -> List[int]:
    obj = r.obj
    if "widths" in obj and ("base_width" in obj or "max_width" in obj):
        r.bad("widths", "and 'base_width'/'max_width' are two ways to give the widths; use one")
    name = "widths"
    if "widths" in obj:
        if not isinstance(obj["widths"], list):
            r.bad("widths", "must be a list with one width per level")
        widths = r.per_stage("widths", levels)
    else:
        name = "base_width"
        base = r.get_int("base_width", 16)
        cap = r.get_int("max_width", 0)
        if 0 < cap < base:
            r.bad("max_width", f"({cap}) must be >= base_width ({base})")
        widths = [min(base << l, cap) if cap > 0 else base << l for l in range(levels)]
        if cap > 0 and cap % 2:
            name = "max_width"
    for level, w in enumerate(widths):
        if w % 2:
            r.bad(name, f"gives {w} channels at level {level}, but every stage is a reversible "
                        f"MBConv stack whose couplings split the channels in two halves: channel "
                        f"counts must be even")
    return widths


def config_from_json(obj: dict, source: str = "config") -> UNetConfig:
    """A resolved UNetConfig from a config object (shorthand or resolved form)."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{source}: a model config must be a JSON object of fields")
    _reject_unknown(obj, source)
    r = _Reader(obj, source)
    c = UNetConfig()
    c.in_channels = r.get_int("in_channels", c.in_channels)
    c.out_channels = r.get_int("out_channels", c.out_channels)
    if "levels" in obj:
        c.levels = r.integer("levels", obj["levels"])
    elif isinstance(obj.get("widths"), list):
        c.levels = len(obj["widths"])
    if not 1 <= c.levels <= 8:
        r.bad("levels", f"must be between 1 and 8, got {c.levels}")
    c.widths = _widths(r, c.levels)
    c.encoder_couplings = (r.per_stage("encoder_couplings", c.levels)
                           if "encoder_couplings" in obj else [1] * c.levels)
    c.decoder_couplings = (r.per_stage("decoder_couplings", c.levels - 1)
                           if "decoder_couplings" in obj else [1] * (c.levels - 1))
    c.expansion = r.get_int("expansion", c.expansion)
    c.kernel_size = r.get_int("kernel_size", c.kernel_size)
    if c.kernel_size % 2 == 0:
        r.bad("kernel_size", f"must be odd (so the depthwise conv keeps the shape), got "
                             f"{c.kernel_size}")
    c.norm = r.get_choice("norm", c.norm, NORMS)
    c.groups = r.get_int("groups", c.groups)
    c.activation = r.get_choice("activation", c.activation, ACTIVATIONS)
    c.squeeze_excitation = r.get_bool("squeeze_excitation", c.squeeze_excitation)
    c.downsampling = r.get_choice("downsampling", c.downsampling, DOWNSAMPLINGS)
    c.upsampling = r.get_choice("upsampling", c.upsampling, UPSAMPLINGS)
    c.skip = r.get_choice("skip", c.skip, SKIPS)
    c.deep_supervision = r.get_bool("deep_supervision", c.deep_supervision)
    c.mode = r.get_choice("mode", c.mode, MODES)
    if "stage_modes" in obj:
        value = obj["stage_modes"]
        if not isinstance(value, dict):
            r.bad("stage_modes", f"must be an object like {{\"enc0\": \"plain\"}}, got "
                                 f"{json.dumps(value)}")
        names = stage_names(c.levels)
        for stage, mode in value.items():
            if stage not in names:
                r.bad("stage_modes", f"names stage '{stage}', but a {c.levels}-level U-Net has "
                                     f"the stages {', '.join(names)}")
            c.stage_modes[stage] = r.choice(f"stage_modes.{stage}", mode, MODES)
    if "patch" in obj:
        if not isinstance(obj["patch"], list) or len(obj["patch"]) != 3:
            r.bad("patch", f"must be a list of 3 sizes [x, y, z], got {json.dumps(obj['patch'])}")
        c.patch = r.per_stage("patch", 3)
    return c


def load_config(path: str) -> UNetConfig:
    """Reads a config file (configs/*.json, or the .json `revunet export` writes)."""
    with open(path, encoding="utf-8") as f:
        try:
            obj = json.load(f)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON: {e}") from None
    return config_from_json(obj, path)

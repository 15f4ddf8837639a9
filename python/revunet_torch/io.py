"""Loading what `revunet export` writes: weights.pt (a state dict pickled by LibTorch, read by
torch.load) and weights.json beside it (the resolved model config)."""

import os
from typing import Dict, Optional

import torch

from .config import load_config
from .unet import UNet


def config_path_beside(weights_path: str) -> str:
    """weights.pt -> weights.json (as nn::config_path_beside)."""
    root, ext = os.path.splitext(weights_path)
    return (root if ext == ".pt" else weights_path) + ".json"


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The name -> tensor dict of an exported file, on CPU, without running any pickled code."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        state = torch.load(path, map_location="cpu")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors (write it with revunet export)")
    return state


def load_model(weights_path: str, config_path: Optional[str] = None,
               mode: Optional[str] = None) -> UNet:
    """The twin of an exported revunet model with its weights loaded (strict: every name must
    match). `mode` overrides the config's stage modes (plain, checkpoint, reversible)."""
    config = load_config(config_path or config_path_beside(weights_path))
    model = UNet(config, mode=mode)
    model.load_state_dict(load_state_dict(weights_path), strict=True)
    return model

"""revunet_torch: revunet's reversible MBConv U-Net in plain PyTorch.

Builds the same network as revunet from the same JSON config and loads the weights `revunet
export` writes, in plain, torch.utils.checkpoint or reversible mode (docs/pytorch.md):

    import revunet_torch
    model = revunet_torch.load_model("weights.pt")        # weights.json beside it
    logits = model(x)                                      # x: [B, 4, X, Y, Z]
"""

from .config import ConfigError, UNetConfig, config_from_json, load_config, stage_names
from .io import config_path_beside, load_model, load_state_dict
from .loss import deep_supervision_loss, region_loss
from .mbconv import MBConv, group_count
from .reversible import AdditiveCoupling, ReversibleSequence
from .unet import UNet

__version__ = "0.1.0"
__all__ = [
    "AdditiveCoupling", "ConfigError", "MBConv", "ReversibleSequence", "UNet", "UNetConfig",
    "config_from_json", "config_path_beside", "deep_supervision_loss", "group_count",
    "load_config", "load_model", "load_state_dict", "region_loss", "stage_names",
]

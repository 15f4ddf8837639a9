"""The training loss of revunet (src/revunet/train/loss.cpp): BCE + soft Dice per sample and region
(WT, TC, ET), averaged; deep supervision sums it over lower resolutions with halving weights."""

from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F


def _terms(logits, target, smooth):
    if logits.dim() < 3 or logits.shape != target.shape:
        raise ValueError(f"loss: logits {tuple(logits.shape)} and target {tuple(target.shape)} "
                         f"must be [B, regions, spatial...] of the same shape")
    # The loss is taken in float32 at least, even when the forward ran under autocast.
    logits = logits if logits.dtype == torch.float64 else logits.float()
    target = target.to(logits.dtype)
    b, r = logits.shape[:2]
    flat_logits = logits.reshape(b, r, -1)
    flat_target = target.reshape(b, r, -1)
    bce = F.binary_cross_entropy_with_logits(flat_logits, flat_target, reduction="none").mean(-1)
    prob = torch.sigmoid(flat_logits)
    intersection = (prob * flat_target).sum(-1)
    denominator = prob.sum(-1) + flat_target.sum(-1)
    dice = 1 - (2 * intersection + smooth) / (denominator + smooth)
    return bce, dice


def region_loss(logits, target, region_weights: Sequence[float] = (1, 1, 1),
                bce_weight: float = 1, dice_weight: float = 1, smooth: float = 1e-5):
    """Batch mean of the per-sample loss: sum_r w_r (BCE_br + (1 - Dice_br)) / sum_r w_r."""
    bce, dice = _terms(logits, target, smooth)
    if bce.shape[1] != len(region_weights):
        raise ValueError(f"loss: expected {len(region_weights)} region channels, got "
                         f"{bce.shape[1]}")
    total = float(sum(region_weights))
    w = torch.tensor([v / total for v in region_weights], dtype=torch.float64).to(bce)
    return bce_weight * (bce * w).sum(1).mean() + dice_weight * (dice * w).sum(1).mean()


def downsample_target(target, size):
    """A region present anywhere in a cell marks the cell (adaptive max pooling)."""
    if list(target.shape[2:]) == list(size):
        return target
    t = target if target.dtype == torch.float64 else target.float()
    return F.adaptive_max_pool3d(t, list(size)).to(target.dtype)


def halving_weights(levels: int) -> List[float]:
    w = [2.0 ** -i for i in range(levels)]
    return [v / sum(w) for v in w]


def deep_supervision_loss(logits: List[torch.Tensor], target, weights: Optional[List[float]] = None,
                          **options):
    """logits[0] at full resolution, logits[i] at lower ones; one level is region_loss."""
    if not logits:
        raise ValueError("deep_supervision_loss: no outputs given")
    if len(logits) == 1:
        return region_loss(logits[0], target, **options)
    weights = halving_weights(len(logits)) if weights is None else weights
    total_weight = sum(weights)
    total = None
    for out, w in zip(logits, weights):
        if w == 0:
            continue
        level = w / total_weight * region_loss(out, downsample_target(target, out.shape[2:]),
                                               **options)
        total = level if total is None else total + level
    return total

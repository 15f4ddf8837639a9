// Region loss for the WT, TC, ET sigmoid outputs: binary cross-entropy plus soft Dice, both taken
// per sample and region and then averaged, so a batch's loss is the mean of its samples' losses
// whatever the batch size. Deep supervision sums the same loss over lower-resolution outputs.
#pragma once

#include <torch/types.h>

#include <array>
#include <string>
#include <vector>

namespace revunet::train {

struct LossOptions {
  double bce_weight = 1;
  double dice_weight = 1;
  // Added to the Dice numerator and denominator: an empty target predicted empty scores ~1.
  double smooth = 1e-5;
  // One weight per region channel (WT, TC, ET); the region average is weighted by these.
  std::array<double, 3> region_weights{1, 1, 1};
};

// Scalars (0-dim tensors); `total` carries the graph.
struct LossParts {
  torch::Tensor total;
  torch::Tensor bce;   // weighted region average of the per-sample mean BCE
  torch::Tensor dice;  // weighted region average of the per-sample (1 - soft Dice)
};

// Per-sample loss {B}: for sample b, sum_r w_r (bce_weight BCE_br + dice_weight (1 - Dice_br)) /
// sum_r w_r. `logits` and `target` are {B, 3, spatial...} of the same shape; target is 0/1.
// Half and bfloat16 logits are promoted to float32 first (the loss is always taken in float).
torch::Tensor region_loss_per_sample(const torch::Tensor& logits, const torch::Tensor& target,
                                     const LossOptions& options);

// The batch mean of region_loss_per_sample, with its BCE and Dice parts.
LossParts region_loss(const torch::Tensor& logits, const torch::Tensor& target,
                      const LossOptions& options);

// How a 0/1 target is brought down to a lower-resolution output's size.
enum class TargetDownsample {
  kMaxPool,  // a region present anywhere in a cell marks the cell (keeps small ET foci)
  kNearest,
};
TargetDownsample parse_target_downsample(const std::string& text);  // "max" or "nearest"

// `target` {B, C, spatial...} resized to `spatial_size` (1 to 3 spatial dims).
torch::Tensor downsample_target(const torch::Tensor& target, at::IntArrayRef spatial_size,
                                TargetDownsample mode);

// Weights 1, 1/2, 1/4, ... for `levels` outputs, normalised to sum 1.
std::vector<double> halving_weights(size_t levels);

// Deep supervision: logits[0] at full resolution, logits[i] at lower ones. Each level's loss is
// taken against the target downsampled to its size; levels are combined with `weights` (empty:
// halving_weights), which are normalised to sum 1. One level is exactly region_loss.
LossParts deep_supervision_loss(const std::vector<torch::Tensor>& logits,
                                const torch::Tensor& target, const LossOptions& options,
                                std::vector<double> weights = {},
                                TargetDownsample mode = TargetDownsample::kMaxPool);

}  // namespace revunet::train

// From per-region probabilities to binary regions: thresholding, the small-enhancing-tumour
// rule and the region hierarchy. Regions in the project's order: WT, TC, ET (channels 0, 1, 2).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace revunet::infer {

// How to make ET ⊆ TC ⊆ WT hold when the three sigmoid outputs disagree.
enum class Hierarchy {
  kNone,           // leave the regions as thresholded
  kGrowParents,    // TC |= ET, WT |= TC: what painting WT, then TC, then ET into labels gives
  kShrinkChildren  // TC &= WT, ET &= TC: a child voxel outside its parent is dropped
};

struct PostprocessOptions {
  double threshold = 0.5;
  // Small-ET rule (used by BraTS winners, e.g. Isensee et al. 2018/2020): when the whole
  // prediction has fewer than this many ET voxels, they are taken to be false positives of
  // enhancement and removed from ET but kept in TC, so painting labels turns them into
  // necrosis (NCR). A case without ET in the reference scores Dice 1 for ET only with an empty
  // prediction, which is why this pays. 0 disables the rule.
  int64_t min_enhancing_voxels = 0;
  Hierarchy hierarchy = Hierarchy::kNone;
};

// probabilities {3, ...} (any floating dtype) -> bool {3, ...}: probability > threshold.
torch::Tensor threshold_regions(const torch::Tensor& probabilities, double threshold = 0.5);

// The small-ET rule above on bool regions {3, ...}; returns new regions.
torch::Tensor remove_small_enhancing(const torch::Tensor& regions, int64_t min_voxels);

// ET ⊆ TC ⊆ WT on bool regions {3, ...} by the chosen rule; returns new regions.
torch::Tensor enforce_hierarchy(const torch::Tensor& regions, Hierarchy hierarchy);

// threshold_regions, then remove_small_enhancing, then enforce_hierarchy.
torch::Tensor postprocess(const torch::Tensor& probabilities, const PostprocessOptions& options);

}  // namespace revunet::infer

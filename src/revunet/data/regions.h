// BraTS evaluation regions and their conversion to and from label maps, as one table.
// Channels in this order everywhere: WT (whole tumour = every tumour label), TC (tumour core =
// NCR + ET), ET (enhancing tumour).
#pragma once

#include <torch/torch.h>

#include <string>

#include "revunet/data/brats.h"

namespace revunet::data {

enum class Region : int { kWT = 0, kTC = 1, kET = 2 };
constexpr int kNumRegions = 3;

std::string region_name(Region region);  // "WT", "TC", "ET"

// int labels {X,Y,Z} (or {B,X,Y,Z}) -> float32 0/1 regions {3,X,Y,Z} (or {B,3,X,Y,Z}).
torch::Tensor labels_to_regions(const torch::Tensor& labels, LabelConvention convention);

// bool or 0/1 regions {3,X,Y,Z} -> int64 labels {X,Y,Z}: paints WT as oedema, then TC as necrosis,
// then ET, so a voxel takes the label of the innermost region that holds it.
torch::Tensor regions_to_labels(const torch::Tensor& regions, LabelConvention convention);

}  // namespace revunet::data

// Per-case preprocessing before patch sampling: crop to the brain's bounding box (the non-zero
// voxels of any modality) and z-score each modality over its non-zero voxels. The crop box is kept
// so a prediction on the cropped volume can be pasted back into the original grid.
#pragma once

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>

namespace revunet::data {

// A half-open box [lo, hi) over the three spatial dims (tensor order X, Y, Z).
struct CropBox {
  std::array<int64_t, 3> lo{0, 0, 0};
  std::array<int64_t, 3> hi{0, 0, 0};

  std::array<int64_t, 3> size() const { return {hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]}; }
  bool operator==(const CropBox& o) const { return lo == o.lo && hi == o.hi; }
  bool operator!=(const CropBox& o) const { return !(*this == o); }
};

// The smallest box holding every voxel that is non-zero in any channel of `image` {C,X,Y,Z}.
// An all-zero image gives the full extent (nothing to crop, and nothing downstream breaks).
// The last three sizes of `t` ({..., X, Y, Z} -> {X, Y, Z}).
inline std::array<int64_t, 3> spatial_shape(const torch::Tensor& t) {
  const int64_t n = t.dim();
  return {t.size(n - 3), t.size(n - 2), t.size(n - 1)};
}

CropBox nonzero_bounding_box(const torch::Tensor& image);

// The box of the last three dims of `t` {..., X, Y, Z}, as a new contiguous tensor (not a view,
// so the full volume can be freed).
torch::Tensor crop_to_box(const torch::Tensor& t, const CropBox& box);

// The inverse of crop_to_box: a tensor {..., full_shape} filled with `fill` and `cropped` written
// into `box`. Exact inside the box.
torch::Tensor paste_from_box(const torch::Tensor& cropped, const CropBox& box,
                             std::array<int64_t, 3> full_shape, double fill = 0);

// A robust intensity range of one modality {X, Y, Z}: the 0.5th and 99.5th percentiles of its
// non-zero voxels, estimated from every k-th voxel (k chosen so that about 2^20 voxels are looked
// at; all non-zero voxels when the sample holds fewer than 1000), and fences `widths` times the
// percentile range beyond them. A volume without non-zero voxels gets infinite fences.
struct IntensityFences {
  double percentile_low = 0, percentile_high = 0;  // 0.5th and 99.5th
  double low = 0, high = 0;                        // the fences
};
IntensityFences intensity_fences(const torch::Tensor& modality, double widths = 1.0);

// Per modality of `image` {C,X,Y,Z}: non-zero voxels are clipped to intensity_fences(modality)
// (one percentile range beyond the 0.5th/99.5th percentiles: ordinary MRI has no voxel there, a
// few voxels at 1e30 are pulled back), then (x - mean) / std over that modality's non-zero voxels;
// zero voxels stay exactly 0. A constant modality maps its non-zero voxels to 0 (no NaN).
torch::Tensor zscore_nonzero(const torch::Tensor& image);

struct PreprocessedCase {
  std::string id;
  torch::Tensor image;    // float32 {C, x, y, z}, cropped and z-scored
  torch::Tensor regions;  // uint8 {3, x, y, z} (WT, TC, ET), cropped; undefined if unlabelled
  CropBox box;            // where the crop sits in the original grid
  std::array<int64_t, 3> original_shape{0, 0, 0};
  std::array<double, 3> spacing{1, 1, 1};  // voxel size of each spatial dim, in mm
};

// Crops `image` {C,X,Y,Z} (and `regions` {3,X,Y,Z} if defined) to the non-zero box of the image,
// widened to keep every labelled voxel, and z-scores the image.
PreprocessedCase preprocess_case(std::string id, const torch::Tensor& image,
                                 const torch::Tensor& regions, std::array<double, 3> spacing);

}  // namespace revunet::data

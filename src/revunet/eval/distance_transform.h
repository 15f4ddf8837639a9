// Exact Euclidean distance transform with anisotropic voxel spacing, in millimetres.
#pragma once

#include <torch/types.h>

#include <array>

namespace revunet::eval {

// For a bool or uint8 tensor {X, Y, Z} (non-zero = feature), returns float64 {X, Y, Z}: the
// Euclidean distance in mm from each voxel centre to the nearest feature voxel centre, where
// `spacing[d]` is the voxel size along tensor dim d. Feature voxels get 0. A mask without any
// feature voxel gives +inf everywhere.
//
// Exact, not an approximation: the separable lower-envelope-of-parabolas algorithm of
// Felzenszwalb & Huttenlocher (2012), one pass per axis over squared distances weighted by
// spacing², O(voxels) time. Lines are processed in parallel with at::parallel_for.
torch::Tensor euclidean_distance_transform(const torch::Tensor& mask,
                                           const std::array<double, 3>& spacing);

}  // namespace revunet::eval

// Per-region segmentation scores with the BraTS conventions: Dice, HD95, sensitivity,
// specificity of one binary prediction against one binary reference.
#pragma once

#include <torch/types.h>

#include <array>
#include <vector>

namespace revunet::eval {

// HD95 reported when exactly one of the two masks is empty (the BraTS challenge's value: the
// diagonal of the 240 x 240 x 155 mm BraTS volume, sqrt(240² + 240² + 155²)).
constexpr double kEmptyMaskHd95 = 373.13;

struct RegionScores {
  double dice = 0;
  double hd95 = 0;  // mm
  double sensitivity = 0;
  double specificity = 0;
};

// Scores a prediction against a reference, both bool/uint8 {X, Y, Z} of the same shape (any
// device; scored on CPU), with voxel sizes `spacing` in mm along the three dims.
//
// Conventions (BraTS / MedPy):
// - Dice = 2|P∩R| / (|P| + |R|).
// - HD95, as medpy.metric.binary.hd95: the surface of a mask is the mask minus its erosion by
//   the 6-connected cross, with voxels outside the image counted as background (so mask voxels
//   on the image border are surface). For every surface voxel of P the Euclidean distance (mm)
//   to the nearest surface voxel of R is taken, and vice versa; HD95 is the 95th percentile of
//   the union of both sets, with numpy.percentile's default linear interpolation between order
//   statistics (index 0.95 * (n - 1) of the sorted distances).
// - Sensitivity = TP / |R|; specificity = TN / (voxels outside R), over the whole image.
// Empty masks:
// - both empty: Dice 1, HD95 0, sensitivity 1;
// - exactly one empty: Dice 0, HD95 kEmptyMaskHd95;
// - reference empty: sensitivity 1 if the prediction is empty too, else 0 (TP / |R| is 0/0;
//   this rewards predicting nothing where there is nothing and punishes any false positive);
// - reference covering the whole image: specificity 1 (no negatives to get wrong).
RegionScores score_region(const torch::Tensor& pred, const torch::Tensor& ref,
                          std::array<double, 3> spacing);

// The surface voxels of a {X, Y, Z} mask as used by HD95 above (bool {X, Y, Z}).
torch::Tensor mask_surface(const torch::Tensor& mask);

// Linear-interpolation percentile of `values` (numpy.percentile's default); q in [0, 100].
double percentile(std::vector<double> values, double q);

}  // namespace revunet::eval

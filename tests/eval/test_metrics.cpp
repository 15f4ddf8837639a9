#include "revunet/eval/metrics.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace revunet::eval {
namespace {

torch::Tensor box(const std::vector<int64_t>& shape, const std::array<int64_t, 3>& lo,
                  const std::array<int64_t, 3>& size) {
  torch::Tensor m = torch::zeros(shape, torch::kBool);
  m.narrow(0, lo[0], size[0]).narrow(1, lo[1], size[1]).narrow(2, lo[2], size[2]).fill_(true);
  return m;
}

torch::Tensor ball(int64_t n, const std::array<double, 3>& centre, double radius) {
  const torch::Tensor i = torch::arange(n, torch::kFloat64);
  const torch::Tensor d2 = (i - centre[0]).pow(2).view({-1, 1, 1}) +
                           (i - centre[1]).pow(2).view({1, -1, 1}) +
                           (i - centre[2]).pow(2).view({1, 1, -1});
  return d2 <= radius * radius;
}

// MedPy's hd95 written out the slow way: surface by looping over the 6 neighbours, all pairwise
// surface distances, torch::quantile (linear interpolation, as numpy.percentile).
double brute_force_hd95(const torch::Tensor& a, const torch::Tensor& b,
                        const std::array<double, 3>& s) {
  auto surface = [](const torch::Tensor& m) {
    torch::Tensor out = torch::zeros_like(m);
    const auto X = m.size(0), Y = m.size(1), Z = m.size(2);
    auto acc = m.accessor<bool, 3>();
    auto o = out.accessor<bool, 3>();
    for (int64_t x = 0; x < X; ++x) {
      for (int64_t y = 0; y < Y; ++y) {
        for (int64_t z = 0; z < Z; ++z) {
          if (!acc[x][y][z]) continue;
          auto in = [&](int64_t i, int64_t j, int64_t k) {
            return i >= 0 && j >= 0 && k >= 0 && i < X && j < Y && k < Z && acc[i][j][k];
          };
          o[x][y][z] = !(in(x - 1, y, z) && in(x + 1, y, z) && in(x, y - 1, z) && in(x, y + 1, z) &&
                         in(x, y, z - 1) && in(x, y, z + 1));
        }
      }
    }
    return out;
  };
  const torch::Tensor scale = torch::tensor({s[0], s[1], s[2]}, torch::kFloat64);
  const torch::Tensor pa = surface(a).nonzero().to(torch::kFloat64) * scale;
  const torch::Tensor pb = surface(b).nonzero().to(torch::kFloat64) * scale;
  const torch::Tensor d = torch::cdist(pa, pb);
  const torch::Tensor all = torch::cat({std::get<0>(d.min(1)), std::get<0>(d.min(0))});
  return torch::quantile(all, 0.95).item<double>();
}

TEST(ScoreRegion, TwoDisjointCubesHaveHd95EqualToTheirDistanceAlongTheShiftedAxis) {
  // 3-voxel cubes 5 voxels apart along z: directed distances are 5, 4, 3 voxels (9, 8, 9
  // surface voxels each way), so the 95th percentile of the 52 is the largest, 5 * 3.5 mm.
  const std::array<double, 3> spacing = {1.0, 2.0, 3.5};
  const auto a = box({10, 10, 16}, {3, 3, 2}, {3, 3, 3});
  const auto b = box({10, 10, 16}, {3, 3, 7}, {3, 3, 3});
  const RegionScores s = score_region(a, b, spacing);
  EXPECT_DOUBLE_EQ(s.hd95, 5 * 3.5);
  EXPECT_DOUBLE_EQ(s.dice, 0.0);
  EXPECT_DOUBLE_EQ(s.sensitivity, 0.0);
  EXPECT_DOUBLE_EQ(s.specificity, (1600.0 - 27 - 27) / (1600.0 - 27));
}

TEST(ScoreRegion, TwoSingleVoxelsAreTheirEuclideanDistanceApart) {
  const auto a = box({8, 8, 8}, {1, 1, 1}, {1, 1, 1});
  const auto b = box({8, 8, 8}, {2, 3, 4}, {1, 1, 1});
  EXPECT_DOUBLE_EQ(score_region(a, b, {1.0, 2.0, 3.5}).hd95,
                   std::sqrt(1.0 + 4.0 * 4.0 + 10.5 * 10.5));
}

TEST(ScoreRegion, HalfOverlappingCubesHaveDiceAndSensitivityOneHalf) {
  const auto pred = box({12, 12, 12}, {2, 2, 2}, {4, 4, 4});
  const auto ref = box({12, 12, 12}, {4, 2, 2}, {4, 4, 4});
  const RegionScores s = score_region(pred, ref, {1, 1, 1});
  EXPECT_DOUBLE_EQ(s.dice, 0.5);
  EXPECT_DOUBLE_EQ(s.sensitivity, 0.5);
  EXPECT_DOUBLE_EQ(s.specificity, (1728.0 - 64 - 32) / (1728.0 - 64));
  EXPECT_DOUBLE_EQ(s.hd95, brute_force_hd95(pred, ref, {1, 1, 1}));
}

TEST(ScoreRegion, IdenticalMasksScorePerfectly) {
  const auto m = ball(16, {7.5, 7, 8}, 5);
  const RegionScores s = score_region(m, m.to(torch::kUInt8), {1.2, 1.2, 3});
  EXPECT_DOUBLE_EQ(s.dice, 1.0);
  EXPECT_DOUBLE_EQ(s.hd95, 0.0);
  EXPECT_DOUBLE_EQ(s.sensitivity, 1.0);
  EXPECT_DOUBLE_EQ(s.specificity, 1.0);
}

TEST(ScoreRegion, SphereAgainstShiftedSphereMatchesMedPyComputedByBruteForce) {
  const auto a = ball(24, {11, 11, 11}, 7);
  const auto b = ball(24, {11, 14, 11}, 7);
  const RegionScores iso = score_region(a, b, {1, 1, 1});
  EXPECT_DOUBLE_EQ(iso.hd95, brute_force_hd95(a, b, {1, 1, 1}));
  // A 3-voxel shift: the far surface points are 3 mm off, most are closer.
  EXPECT_GE(iso.hd95, 2.0);
  EXPECT_LE(iso.hd95, 3.0);
  const double overlap = a.logical_and(b).sum().item<double>();
  EXPECT_DOUBLE_EQ(iso.dice, 2 * overlap / (a.sum().item<double>() + b.sum().item<double>()));

  const std::array<double, 3> spacing = {1.0, 2.0, 3.5};
  EXPECT_NEAR(score_region(a, b, spacing).hd95, brute_force_hd95(a, b, spacing), 1e-12);
}

TEST(ScoreRegion, MasksTouchingTheImageBorderHaveSurfaceThere) {
  // A box filling the whole image: voxels on the image border count as surface (scipy border 0).
  const auto slab = box({5, 5, 4}, {0, 0, 0}, {5, 5, 4});
  EXPECT_EQ(mask_surface(slab).sum().item<int64_t>(), 5 * 5 * 4 - 3 * 3 * 2);
  const auto shifted = box({5, 5, 4}, {1, 0, 0}, {4, 5, 4});
  EXPECT_DOUBLE_EQ(score_region(slab, shifted, {1, 1, 1}).hd95,
                   brute_force_hd95(slab, shifted, {1, 1, 1}));
}

TEST(ScoreRegion, FollowsTheBraTSRulesForEmptyMasks) {
  const auto empty = torch::zeros({6, 6, 6}, torch::kBool);
  const auto some = box({6, 6, 6}, {1, 1, 1}, {2, 2, 2});

  const RegionScores both = score_region(empty, empty, {1, 1, 1});
  EXPECT_EQ(both.dice, 1.0);
  EXPECT_EQ(both.hd95, 0.0);
  EXPECT_EQ(both.sensitivity, 1.0);
  EXPECT_EQ(both.specificity, 1.0);

  const RegionScores false_positive = score_region(some, empty, {1, 1, 1});
  EXPECT_EQ(false_positive.dice, 0.0);
  EXPECT_EQ(false_positive.hd95, kEmptyMaskHd95);
  EXPECT_EQ(false_positive.sensitivity, 0.0);
  EXPECT_DOUBLE_EQ(false_positive.specificity, (216.0 - 8) / 216.0);

  const RegionScores missed = score_region(empty, some, {1, 1, 1});
  EXPECT_EQ(missed.dice, 0.0);
  EXPECT_EQ(missed.hd95, kEmptyMaskHd95);
  EXPECT_EQ(missed.sensitivity, 0.0);
  EXPECT_EQ(missed.specificity, 1.0);
}

TEST(ScoreRegion, RejectsMasksOfDifferentShapes) {
  EXPECT_THROW(score_region(torch::zeros({4, 4, 4}, torch::kBool),
                            torch::zeros({4, 4, 5}, torch::kBool), {1, 1, 1}),
               c10::Error);
}

TEST(Percentile, InterpolatesLinearlyAsNumpyDoes) {
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 95), 3.85);
  EXPECT_DOUBLE_EQ(percentile({7}, 95), 7.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3}, 50), 2.0);
}

}  // namespace
}  // namespace revunet::eval

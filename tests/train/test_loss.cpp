#include "revunet/train/loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace revunet::train {
namespace {

torch::Tensor random_target(at::IntArrayRef shape, double p = 0.3) {
  return (torch::rand(shape) < p).to(torch::kFloat);
}

TEST(RegionLoss, BatchOfTwoEqualsMeanOfSingleSampleLosses) {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::randn({2, 3, 6, 5, 4});
  torch::Tensor target = random_target({2, 3, 6, 5, 4});
  target[1][2].zero_();  // one empty region: per-sample Dice must not mix it with sample 0
  LossOptions o;
  o.region_weights = {1, 2, 3};
  o.bce_weight = 0.7;
  const double both = region_loss(logits, target, o).total.item<double>();
  const double first =
      region_loss(logits.slice(0, 0, 1), target.slice(0, 0, 1), o).total.item<double>();
  const double second =
      region_loss(logits.slice(0, 1, 2), target.slice(0, 1, 2), o).total.item<double>();
  EXPECT_NEAR(both, 0.5 * (first + second), 1e-6);
  const torch::Tensor per_sample = region_loss_per_sample(logits, target, o);
  EXPECT_NEAR(per_sample[0].item<double>(), first, 1e-6);
  EXPECT_NEAR(per_sample[1].item<double>(), second, 1e-6);
}

TEST(RegionLoss, PerfectPredictionHasNearZeroDiceLoss) {
  torch::manual_seed(1);
  torch::Tensor target = random_target({2, 3, 8, 8, 8});
  target[0][2].zero_();  // empty target predicted empty also counts as perfect
  const torch::Tensor logits = (target * 2 - 1) * 50;
  const LossParts parts = region_loss(logits, target, LossOptions{});
  EXPECT_LT(parts.dice.item<double>(), 1e-6);
  EXPECT_LT(parts.bce.item<double>(), 1e-6);
  // A wrong prediction is far from zero.
  EXPECT_GT(region_loss(-logits, target, LossOptions{}).dice.item<double>(), 0.9);
}

TEST(RegionLoss, GradientMatchesFiniteDifferencesInDoublePrecision) {
  torch::manual_seed(2);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const torch::Tensor logits = torch::randn({2, 3, 2, 2, 3}, f64).requires_grad_(true);
  const torch::Tensor target = random_target({2, 3, 2, 2, 3}).to(torch::kDouble);
  LossOptions o;
  o.region_weights = {1, 0.5, 2};
  o.smooth = 1e-3;
  region_loss(logits, target, o).total.backward();
  const torch::Tensor analytic = logits.grad().flatten();

  torch::NoGradGuard no_grad;
  const torch::Tensor x = logits.detach().clone().flatten();
  const double eps = 1e-6;
  for (int64_t i = 0; i < x.numel(); ++i) {
    torch::Tensor plus = x.clone(), minus = x.clone();
    plus[i] += eps;
    minus[i] -= eps;
    const double fp = region_loss(plus.view(logits.sizes()), target, o).total.item<double>();
    const double fm = region_loss(minus.view(logits.sizes()), target, o).total.item<double>();
    EXPECT_NEAR((fp - fm) / (2 * eps), analytic[i].item<double>(), 1e-7) << "element " << i;
  }
}

TEST(RegionLoss, BFloat16LogitsAreLossedInFloat) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({1, 3, 4, 4, 4});
  const torch::Tensor target = random_target({1, 3, 4, 4, 4});
  const LossParts parts = region_loss(logits.to(torch::kBFloat16), target, LossOptions{});
  EXPECT_EQ(parts.total.scalar_type(), torch::kFloat);
  EXPECT_NEAR(parts.total.item<double>(),
              region_loss(logits.to(torch::kBFloat16).to(torch::kFloat), target, LossOptions{})
                  .total.item<double>(),
              1e-6);
}

TEST(RegionLoss, RejectsMismatchedShapes) {
  EXPECT_THROW(region_loss(torch::zeros({1, 3, 4, 4}), torch::zeros({1, 3, 4, 5}), {}), c10::Error);
  EXPECT_THROW(region_loss(torch::zeros({1, 2, 4, 4}), torch::zeros({1, 2, 4, 4}), {}), c10::Error);
}

TEST(DeepSupervision, HalvingWeightsAreNormalised) {
  const auto w = halving_weights(3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_NEAR(w[0], 4.0 / 7, 1e-12);
  EXPECT_NEAR(w[1], 2.0 / 7, 1e-12);
  EXPECT_NEAR(w[2], 1.0 / 7, 1e-12);
}

TEST(DeepSupervision, MaxPoolKeepsSmallFociNearestSamples) {
  torch::Tensor target = torch::zeros({1, 3, 4, 4, 4});
  target[0][2][1][1][1] = 1;  // a one-voxel ET focus off the nearest-neighbour grid
  const auto pooled = downsample_target(target, {2, 2, 2}, TargetDownsample::kMaxPool);
  EXPECT_EQ(pooled.sizes(), (std::vector<int64_t>{1, 3, 2, 2, 2}));
  EXPECT_EQ(pooled[0][2][0][0][0].item<float>(), 1.0f);
  EXPECT_EQ(pooled.sum().item<float>(), 1.0f);
  const auto nearest = downsample_target(target, {2, 2, 2}, TargetDownsample::kNearest);
  EXPECT_EQ(nearest.sum().item<float>(), 0.0f);
}

TEST(DeepSupervision, CombinesLevelsWithNormalisedWeights) {
  torch::manual_seed(4);
  const torch::Tensor target = random_target({2, 3, 8, 8, 8});
  const std::vector<torch::Tensor> logits = {torch::randn({2, 3, 8, 8, 8}),
                                             torch::randn({2, 3, 4, 4, 4})};
  const LossOptions o;
  const double full = region_loss(logits[0], target, o).total.item<double>();
  const double low =
      region_loss(logits[1], downsample_target(target, {4, 4, 4}, TargetDownsample::kMaxPool), o)
          .total.item<double>();
  EXPECT_NEAR(deep_supervision_loss(logits, target, o).total.item<double>(), (2 * full + low) / 3,
              1e-6);
  EXPECT_NEAR(deep_supervision_loss({logits[0]}, target, o).total.item<double>(), full, 1e-7);
  EXPECT_NEAR(deep_supervision_loss(logits, target, o, {3, 1}).total.item<double>(),
              0.75 * full + 0.25 * low, 1e-6);
}

}  // namespace
}  // namespace revunet::train

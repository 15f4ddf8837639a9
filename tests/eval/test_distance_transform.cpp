#include "revunet/eval/distance_transform.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>

namespace revunet::eval {
namespace {

// Distance from every voxel to the nearest feature voxel by trying them all.
torch::Tensor brute_force_edt(const torch::Tensor& mask, const std::array<double, 3>& s) {
  const torch::Tensor features = mask.nonzero().to(torch::kFloat64);  // {N, 3}
  const torch::Tensor scale = torch::tensor({s[0], s[1], s[2]}, torch::kFloat64);
  const torch::Tensor grid =
      torch::ones_like(mask, torch::kFloat64).nonzero().to(torch::kFloat64);  // all voxels
  if (features.size(0) == 0) {
    return torch::full(mask.sizes(), std::numeric_limits<double>::infinity(), torch::kFloat64);
  }
  const torch::Tensor diff = (grid.unsqueeze(1) - features.unsqueeze(0)) * scale;  // {V, N, 3}
  return std::get<0>(diff.pow(2).sum(2).min(1)).sqrt().view(mask.sizes());
}

TEST(EuclideanDistanceTransform, MatchesBruteForceOnRandomMasksWithAnisotropicSpacing) {
  torch::manual_seed(3);
  const std::array<double, 3> spacing = {1.0, 2.0, 3.5};
  for (double density : {0.02, 0.1, 0.5}) {
    for (const auto& shape : std::vector<std::vector<int64_t>>{{9, 7, 5}, {4, 11, 6}, {1, 8, 3}}) {
      const torch::Tensor mask = torch::rand(shape) < density;
      if (mask.sum().item<int64_t>() == 0) continue;
      const torch::Tensor got = euclidean_distance_transform(mask, spacing);
      const torch::Tensor want = brute_force_edt(mask, spacing);
      EXPECT_TRUE(torch::allclose(got, want, 0, 1e-9))
          << "density " << density << " shape " << mask.sizes() << " max error "
          << (got - want).abs().max().item<double>();
    }
  }
}

TEST(EuclideanDistanceTransform, IsZeroOnFeaturesAndExactForOneVoxel) {
  torch::Tensor mask = torch::zeros({6, 6, 6}, torch::kUInt8);
  mask.index_put_({1, 2, 3}, 1);
  const torch::Tensor d = euclidean_distance_transform(mask, {0.5, 1.0, 2.0});
  EXPECT_EQ(d.index({1, 2, 3}).item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(d.index({4, 0, 5}).item<double>(), std::sqrt(1.5 * 1.5 + 2.0 * 2.0 + 4.0 * 4.0));
}

TEST(EuclideanDistanceTransform, IsInfiniteEverywhereForAnEmptyMask) {
  const torch::Tensor d =
      euclidean_distance_transform(torch::zeros({3, 4, 5}, torch::kBool), {1, 1, 1});
  EXPECT_TRUE(torch::isinf(d).all().item<bool>());
}

TEST(EuclideanDistanceTransform, RejectsWrongShapesAndSpacing) {
  EXPECT_THROW(euclidean_distance_transform(torch::zeros({3, 4}, torch::kBool), {1, 1, 1}),
               c10::Error);
  EXPECT_THROW(euclidean_distance_transform(torch::zeros({3, 4, 5}), {1, 1, 1}), c10::Error);
  EXPECT_THROW(euclidean_distance_transform(torch::zeros({3, 4, 5}, torch::kBool), {1, 0, 1}),
               c10::Error);
}

TEST(EuclideanDistanceTransform, TakesSecondsNotMinutesOnABraTSSizedVolume) {
  torch::Tensor mask = torch::zeros({240, 240, 155}, torch::kBool);
  mask.narrow(0, 100, 30).narrow(1, 90, 40).narrow(2, 60, 20).fill_(true);
  const auto start = std::chrono::steady_clock::now();
  const torch::Tensor d = euclidean_distance_transform(mask, {1, 1, 1});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_DOUBLE_EQ(d.index({0, 0, 0}).item<double>(), std::sqrt(100.0 * 100 + 90 * 90 + 60 * 60));
  EXPECT_LT(seconds, 10.0);
  std::cout << "EDT of 240x240x155: " << seconds << " s\n";
}

}  // namespace
}  // namespace revunet::eval

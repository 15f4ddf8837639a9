#include "revunet/data/preprocess.h"

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <cmath>

namespace revunet::data {
namespace {

TEST(Preprocess, BoundingBoxCoversTheNonZeroVoxelsOfEveryModality) {
  torch::Tensor image = torch::zeros({4, 20, 22, 24});
  image[0][3][5][7] = 1;
  image[2][10][15][20] = -2;  // negative intensities count as brain too
  const CropBox box = nonzero_bounding_box(image);
  EXPECT_EQ(box.lo, (std::array<int64_t, 3>{3, 5, 7}));
  EXPECT_EQ(box.hi, (std::array<int64_t, 3>{11, 16, 21}));
  EXPECT_EQ(box.size(), (std::array<int64_t, 3>{8, 11, 14}));
}

TEST(Preprocess, AllZeroImageGivesTheFullExtent) {
  const CropBox box = nonzero_bounding_box(torch::zeros({4, 5, 6, 7}));
  EXPECT_EQ(box.lo, (std::array<int64_t, 3>{0, 0, 0}));
  EXPECT_EQ(box.hi, (std::array<int64_t, 3>{5, 6, 7}));
}

TEST(Preprocess, CropThenPasteBackIsExactInsideTheBoxAndFillsOutside) {
  torch::manual_seed(1);
  const torch::Tensor t = torch::randn({2, 10, 12, 14});
  const CropBox box{{2, 3, 4}, {9, 12, 5}};
  const torch::Tensor cropped = crop_to_box(t, box);
  ASSERT_EQ(cropped.sizes(), (std::vector<int64_t>{2, 7, 9, 1}));
  EXPECT_TRUE(cropped.is_contiguous());
  const torch::Tensor back = paste_from_box(cropped, box, {10, 12, 14}, -1);
  ASSERT_EQ(back.sizes(), t.sizes());
  const torch::Tensor inside = back.slice(1, 2, 9).slice(2, 3, 12).slice(3, 4, 5);
  EXPECT_TRUE(torch::equal(inside, t.slice(1, 2, 9).slice(2, 3, 12).slice(3, 4, 5)));
  EXPECT_EQ((back == -1).sum().item<int64_t>(), back.numel() - cropped.numel());
}

TEST(Preprocess, CropRoundTripWorksOnThreeDimensionalIntegerMaps) {
  const torch::Tensor labels = torch::randint(0, 5, {6, 7, 8}, torch::kLong);
  const CropBox box{{1, 0, 2}, {6, 7, 8}};
  const torch::Tensor back = paste_from_box(crop_to_box(labels, box), box, {6, 7, 8});
  EXPECT_EQ(back.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(back.slice(0, 1).slice(2, 2), labels.slice(0, 1).slice(2, 2)));
}

TEST(Preprocess, CropRejectsABoxOutsideTheVolume) {
  const torch::Tensor t = torch::zeros({1, 4, 4, 4});
  EXPECT_THROW(crop_to_box(t, CropBox{{0, 0, 0}, {5, 4, 4}}), c10::Error);
  EXPECT_THROW(crop_to_box(t, CropBox{{3, 0, 0}, {2, 4, 4}}), c10::Error);
  EXPECT_THROW(paste_from_box(torch::zeros({1, 2, 2, 2}), CropBox{{0, 0, 0}, {3, 2, 2}}, {4, 4, 4}),
               c10::Error);
}

TEST(Preprocess, ZscoreGivesZeroMeanUnitStdOverBrainAndKeepsBackgroundZero) {
  torch::manual_seed(2);
  torch::Tensor image = torch::rand({3, 16, 16, 16}) * 500 + 100;
  image.slice(1, 0, 4).zero_();  // background
  image[1][8][8][8] = 0;         // a zero voxel inside the brain is background too
  const torch::Tensor z = zscore_nonzero(image);
  ASSERT_EQ(z.sizes(), image.sizes());
  EXPECT_EQ(z.scalar_type(), torch::kFloat);
  for (int64_t c = 0; c < 3; ++c) {
    const torch::Tensor mask = image[c] != 0;
    const torch::Tensor values = z[c].masked_select(mask).to(torch::kDouble);
    EXPECT_NEAR(values.mean().item<double>(), 0.0, 1e-5) << "channel " << c;
    EXPECT_NEAR(values.std(false).item<double>(), 1.0, 1e-4) << "channel " << c;
    EXPECT_EQ(z[c].masked_select(~mask).abs().max().item<float>(), 0.0f) << "channel " << c;
  }
}

TEST(Preprocess, ZscoreOfAConstantOrEmptyModalityIsFiniteAndZero) {
  torch::Tensor image = torch::zeros({2, 5, 5, 5});
  image[0].slice(0, 1, 4).fill_(7);  // constant brain: std 0
  const torch::Tensor z = zscore_nonzero(image);
  EXPECT_TRUE(torch::isfinite(z).all().item<bool>());
  EXPECT_EQ(z.abs().max().item<float>(), 0.0f);
}

TEST(Preprocess, PreprocessCaseCropsImageAndRegionsAndRecordsTheGeometry) {
  torch::manual_seed(3);
  torch::Tensor image = torch::zeros({4, 20, 21, 22});
  image.slice(1, 4, 15).slice(2, 5, 16).slice(3, 6, 17).uniform_(1, 2);
  torch::Tensor regions = torch::zeros({3, 20, 21, 22}, torch::kUInt8);
  regions.slice(1, 8, 10).slice(2, 8, 10).slice(3, 8, 10).fill_(1);
  const PreprocessedCase c = preprocess_case("case-1", image, regions, {1.0, 1.5, 2.0});
  EXPECT_EQ(c.id, "case-1");
  EXPECT_EQ(c.box, (CropBox{{4, 5, 6}, {15, 16, 17}}));
  EXPECT_EQ(c.original_shape, (std::array<int64_t, 3>{20, 21, 22}));
  EXPECT_EQ(c.spacing, (std::array<double, 3>{1.0, 1.5, 2.0}));
  ASSERT_EQ(c.image.sizes(), (std::vector<int64_t>{4, 11, 11, 11}));
  ASSERT_EQ(c.regions.sizes(), (std::vector<int64_t>{3, 11, 11, 11}));
  EXPECT_EQ(c.regions.scalar_type(), torch::kUInt8);
  EXPECT_EQ(c.regions.sum().item<int64_t>(), regions.sum().item<int64_t>());
  EXPECT_TRUE(torch::equal(paste_from_box(c.regions, c.box, c.original_shape), regions));
  EXPECT_NEAR(c.image[0].mean().item<double>(), 0.0, 1e-5);  // the whole crop is brain here
}

TEST(Preprocess, PreprocessCaseKeepsLabelsOutsideTheBrainAndAcceptsNoRegions) {
  torch::Tensor image = torch::zeros({4, 10, 10, 10});
  image.slice(1, 2, 5).fill_(1);
  torch::Tensor regions = torch::zeros({3, 10, 10, 10}, torch::kUInt8);
  regions[0][8][1][1] = 1;
  const PreprocessedCase labelled = preprocess_case("a", image, regions, {1, 1, 1});
  EXPECT_EQ(labelled.regions.sum().item<int64_t>(), 1);
  EXPECT_EQ(labelled.box.hi[0], 9);

  const PreprocessedCase unlabelled = preprocess_case("b", image, torch::Tensor(), {1, 1, 1});
  EXPECT_FALSE(unlabelled.regions.defined());
  EXPECT_EQ(unlabelled.box, (CropBox{{2, 0, 0}, {5, 10, 10}}));
}

TEST(Preprocess, IntensityFencesAreNearestRankPercentilesWidenedByTheirRange) {
  // 1..1000 over a 10x10x10 volume: the 5th and 995th smallest values.
  const torch::Tensor m = torch::arange(1, 1001, torch::kFloat).view({10, 10, 10});
  const IntensityFences f = intensity_fences(m);
  EXPECT_DOUBLE_EQ(f.percentile_low, 5);
  EXPECT_DOUBLE_EQ(f.percentile_high, 995);
  EXPECT_DOUBLE_EQ(f.low, 5 - 990);
  EXPECT_DOUBLE_EQ(f.high, 995 + 990);
  EXPECT_DOUBLE_EQ(intensity_fences(m, 100).high, 995 + 100 * 990);
  EXPECT_TRUE(std::isinf(intensity_fences(torch::zeros({3, 3, 3})).high));
}

TEST(Preprocess, AFewVoxelsAt1e30DoNotWreckTheNormalisedVolume) {
  torch::manual_seed(3);
  torch::Tensor image = torch::rand({2, 16, 16, 16}) * 500 + 100;
  image.slice(1, 0, 3).zero_();
  torch::Tensor spiked = image.clone();
  spiked[0][8][8][8] = 1e30f;
  spiked[0][9][9][9] = 1e30f;
  spiked[1][10][4][4] = -1e30f;
  const torch::Tensor plain = zscore_nonzero(image);
  const torch::Tensor z = zscore_nonzero(spiked);
  EXPECT_TRUE(torch::isfinite(z).all().item<bool>());
  EXPECT_LT(z.abs().max().item<float>(), 10.0f);
  // Every other brain voxel keeps (nearly) the z-score it has without the spikes: three clipped
  // voxels among ~3500 move the mean and std by well under 1 %.
  torch::Tensor other = spiked != image;
  other = other.logical_not() & (image != 0);
  const double worst = (z - plain).abs().masked_select(other).max().item<double>();
  EXPECT_LT(worst, 0.02) << worst;
}

}  // namespace
}  // namespace revunet::data

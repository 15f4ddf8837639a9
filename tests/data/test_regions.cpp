#include "revunet/data/regions.h"

#include <gtest/gtest.h>

namespace revunet::data {
namespace {

torch::Tensor labels_of(std::vector<int64_t> values) {
  return torch::tensor(values).view({static_cast<int64_t>(values.size()), 1, 1});
}

// regions[r] as a flat list, for a {3, N, 1, 1} tensor.
std::vector<float> region(const torch::Tensor& regions, Region r) {
  const torch::Tensor flat = regions[static_cast<int>(r)].flatten().contiguous();
  return {flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel()};
}

TEST(Regions, NamesRegionsInChannelOrder) {
  EXPECT_EQ(region_name(Region::kWT), "WT");
  EXPECT_EQ(region_name(Region::kTC), "TC");
  EXPECT_EQ(region_name(Region::kET), "ET");
  EXPECT_EQ(kNumRegions, 3);
}

TEST(Regions, MapsBraTS2021LabelsToNestedRegions) {
  // background, NCR, ED, ET
  const torch::Tensor r = labels_to_regions(labels_of({0, 1, 2, 4}), LabelConvention::kBraTS2021);
  EXPECT_EQ(r.scalar_type(), torch::kFloat32);
  EXPECT_EQ(r.sizes(), (std::vector<int64_t>{3, 4, 1, 1}));
  EXPECT_EQ(region(r, Region::kWT), (std::vector<float>{0, 1, 1, 1}));
  EXPECT_EQ(region(r, Region::kTC), (std::vector<float>{0, 1, 0, 1}));
  EXPECT_EQ(region(r, Region::kET), (std::vector<float>{0, 0, 0, 1}));
}

TEST(Regions, MapsBraTS2023LabelsToNestedRegions) {
  // background, NCR, SNFH, ET
  const torch::Tensor r = labels_to_regions(labels_of({0, 1, 2, 3}), LabelConvention::kBraTS2023);
  EXPECT_EQ(region(r, Region::kWT), (std::vector<float>{0, 1, 1, 1}));
  EXPECT_EQ(region(r, Region::kTC), (std::vector<float>{0, 1, 0, 1}));
  EXPECT_EQ(region(r, Region::kET), (std::vector<float>{0, 0, 0, 1}));
}

TEST(Regions, AcceptsALeadingBatchDimension) {
  const torch::Tensor labels = labels_of({0, 1, 2, 4}).unsqueeze(0).repeat({2, 1, 1, 1});
  const torch::Tensor r = labels_to_regions(labels, LabelConvention::kBraTS2021);
  EXPECT_EQ(r.sizes(), (std::vector<int64_t>{2, 3, 4, 1, 1}));
  EXPECT_TRUE(torch::equal(r[1], labels_to_regions(labels[1], LabelConvention::kBraTS2021)));
}

TEST(Regions, PaintsWholeTumourThenCoreThenEnhancing) {
  // Voxels: none; WT only; WT+TC; WT+TC+ET; ET alone (inconsistent input: ET wins as painted last).
  const torch::Tensor regions = torch::tensor({0, 1, 1, 1, 0,  //
                                               0, 0, 1, 1, 0,  //
                                               0, 0, 0, 1, 1},
                                              torch::kFloat32)
                                    .view({3, 5, 1, 1});
  const torch::Tensor old = regions_to_labels(regions, LabelConvention::kBraTS2021);
  EXPECT_EQ(old.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(old.flatten(), torch::tensor(std::vector<int64_t>{0, 2, 1, 4, 4})));
  const torch::Tensor now = regions_to_labels(regions > 0.5, LabelConvention::kBraTS2023);
  EXPECT_TRUE(torch::equal(now.flatten(), torch::tensor(std::vector<int64_t>{0, 2, 1, 3, 3})));
}

TEST(Regions, LabelsSurviveARoundTripThroughRegions) {
  for (auto convention : {LabelConvention::kBraTS2021, LabelConvention::kBraTS2023}) {
    const auto values = label_values(convention);
    const torch::Tensor pick = torch::randint(0, 4, {6, 5, 4}, torch::kInt64);
    const torch::Tensor labels = torch::take(torch::tensor(values), pick);
    EXPECT_TRUE(
        torch::equal(regions_to_labels(labels_to_regions(labels, convention), convention), labels));
  }
}

TEST(Regions, RefusesFloatLabelsAndWrongChannelCounts) {
  EXPECT_THROW(labels_to_regions(torch::zeros({2, 2, 2}), LabelConvention::kBraTS2021), c10::Error);
  EXPECT_THROW(regions_to_labels(torch::zeros({2, 2, 2, 2}), LabelConvention::kBraTS2021),
               c10::Error);
}

}  // namespace
}  // namespace revunet::data

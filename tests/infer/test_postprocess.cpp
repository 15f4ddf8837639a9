#include "revunet/infer/postprocess.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace revunet::infer {
namespace {

// Regions {3, 4, 4, 4} from per-region voxel lists (WT, TC, ET).
torch::Tensor regions_with(int64_t wt, int64_t tc, int64_t et) {
  torch::Tensor r = torch::zeros({3, 4, 4, 4}, torch::kBool);
  r[0].view(-1).narrow(0, 0, wt).fill_(true);
  r[1].view(-1).narrow(0, 0, tc).fill_(true);
  r[2].view(-1).narrow(0, 0, et).fill_(true);
  return r;
}

TEST(ThresholdRegions, KeepsVoxelsStrictlyAboveTheThreshold) {
  const torch::Tensor p = torch::tensor({0.2, 0.5, 0.7}).view({3, 1, 1, 1}).expand({3, 1, 1, 2});
  const torch::Tensor r = threshold_regions(p);
  EXPECT_EQ(r.scalar_type(), torch::kBool);
  EXPECT_FALSE(r[0].any().item<bool>());
  EXPECT_FALSE(r[1].any().item<bool>());
  EXPECT_TRUE(r[2].all().item<bool>());
  EXPECT_TRUE(threshold_regions(p, 0.1).all().item<bool>());
  EXPECT_THROW(threshold_regions(torch::rand({2, 4, 4, 4})), c10::Error);
  EXPECT_THROW(threshold_regions(torch::ones({3, 4}, torch::kInt64)), c10::Error);
}

TEST(RemoveSmallEnhancing, MovesFewEnhancingVoxelsIntoTheCoreOnly) {
  // ET voxels outside TC: the rule must keep them in TC so they paint as necrosis.
  torch::Tensor r = regions_with(30, 10, 0);
  r[2].view(-1).narrow(0, 12, 5).fill_(true);
  const torch::Tensor out = remove_small_enhancing(r, 6);
  EXPECT_EQ(out[2].sum().item<int64_t>(), 0);
  EXPECT_EQ(out[1].sum().item<int64_t>(), 15);
  EXPECT_TRUE(torch::equal(out[0], r[0]));
  EXPECT_TRUE(out[1].logical_or(r[2]).equal(out[1]));
}

TEST(RemoveSmallEnhancing, KeepsEnhancingTumourAtOrAboveTheThresholdAndWhenDisabled) {
  const torch::Tensor r = regions_with(30, 20, 6);
  EXPECT_TRUE(torch::equal(remove_small_enhancing(r, 6), r));
  EXPECT_TRUE(torch::equal(remove_small_enhancing(r, 0), r));
  EXPECT_EQ(remove_small_enhancing(r, 7)[2].sum().item<int64_t>(), 0);
}

TEST(EnforceHierarchy, GrowParentsPutsEveryChildVoxelIntoItsParents) {
  const torch::Tensor r = regions_with(5, 10, 20);
  const torch::Tensor out = enforce_hierarchy(r, Hierarchy::kGrowParents);
  EXPECT_EQ(out[2].sum().item<int64_t>(), 20);
  EXPECT_EQ(out[1].sum().item<int64_t>(), 20);
  EXPECT_EQ(out[0].sum().item<int64_t>(), 20);
}

TEST(EnforceHierarchy, ShrinkChildrenDropsChildVoxelsOutsideTheirParents) {
  const torch::Tensor r = regions_with(5, 10, 20);
  const torch::Tensor out = enforce_hierarchy(r, Hierarchy::kShrinkChildren);
  EXPECT_EQ(out[0].sum().item<int64_t>(), 5);
  EXPECT_EQ(out[1].sum().item<int64_t>(), 5);
  EXPECT_EQ(out[2].sum().item<int64_t>(), 5);
  EXPECT_TRUE(torch::equal(enforce_hierarchy(r, Hierarchy::kNone), r));
}

TEST(Postprocess, ThresholdsThenAppliesTheSmallEnhancingRuleThenTheHierarchy) {
  torch::Tensor p = torch::zeros({3, 4, 4, 4});
  p[0].view(-1).narrow(0, 0, 40).fill_(0.9);
  p[1].view(-1).narrow(0, 0, 10).fill_(0.8);
  p[2].view(-1).narrow(0, 20, 3).fill_(0.6);  // 3 ET voxels outside TC
  PostprocessOptions o;
  o.min_enhancing_voxels = 4;
  o.hierarchy = Hierarchy::kGrowParents;
  const torch::Tensor out = postprocess(p, o);
  EXPECT_EQ(out[0].sum().item<int64_t>(), 40);
  EXPECT_EQ(out[1].sum().item<int64_t>(), 13);
  EXPECT_EQ(out[2].sum().item<int64_t>(), 0);
}

}  // namespace
}  // namespace revunet::infer

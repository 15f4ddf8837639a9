#include "revunet/data/patch_sampler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <set>
#include <vector>

#include "revunet/core/error.h"

namespace revunet::data {
namespace {

using Cases = std::vector<std::shared_ptr<const PreprocessedCase>>;

// A case of random brain intensities with a cubic foreground blob [blob_lo, blob_hi) in all three
// regions (an empty range gives no foreground).
std::shared_ptr<const PreprocessedCase> make_case(std::array<int64_t, 3> shape, int64_t blob_lo,
                                                  int64_t blob_hi, uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto c = std::make_shared<PreprocessedCase>();
  c->id = "case" + std::to_string(seed);
  c->image = torch::rand({4, shape[0], shape[1], shape[2]}) + 1;  // never zero
  c->regions = torch::zeros({3, shape[0], shape[1], shape[2]}, torch::kUInt8);
  if (blob_hi > blob_lo) {
    c->regions.slice(1, blob_lo, blob_hi)
        .slice(2, blob_lo, blob_hi)
        .slice(3, blob_lo, blob_hi)
        .fill_(1);
  }
  c->original_shape = shape;
  c->box.hi = shape;
  return c;
}

bool same(const Batch& a, const Batch& b) {
  return torch::equal(a.image, b.image) && torch::equal(a.target, b.target);
}

TEST(PatchSampler, ForegroundFractionMatchesTheOptionOverManyDraws) {
  PatchSamplerOptions o;
  o.patch = {16, 16, 16};
  o.batch = 2;
  o.foreground_fraction = 1.0 / 3;
  o.seed = 42;
  PatchSampler sampler({make_case({40, 40, 40}, 19, 22)}, o);
  int64_t centred = 0, draws = 0;
  for (int i = 0; i < 1500; ++i) {
    const Batch b = sampler.next();
    ASSERT_EQ(b.image.sizes(), (std::vector<int64_t>{2, 4, 16, 16, 16}));
    ASSERT_EQ(b.target.sizes(), (std::vector<int64_t>{2, 3, 16, 16, 16}));
    for (int64_t s = 0; s < 2; ++s) {
      centred += b.target[s][0][8][8][8].item<float>() > 0;
      ++draws;
    }
  }
  EXPECT_NEAR(static_cast<double>(centred) / draws, 1.0 / 3, 0.03) << centred << "/" << draws;
}

TEST(PatchSampler, ForegroundPatchesNearTheBorderStillContainTheirVoxel) {
  PatchSamplerOptions o;
  o.patch = {16, 16, 16};
  o.foreground_fraction = 1.0;
  PatchSampler sampler({make_case({30, 30, 30}, 0, 2), make_case({30, 30, 30}, 28, 30, 1)}, o);
  std::mt19937_64 engine(3);
  for (int i = 0; i < 200; ++i) {
    const PatchDraw d = sampler.draw(engine);
    EXPECT_TRUE(d.foreground);
    for (int a = 0; a < 3; ++a) {
      EXPECT_GE(d.lo[a], 0);  // kept inside the case: no padding needed here
      EXPECT_LE(d.lo[a], 14);
    }
    EXPECT_GT(sampler.extract({d}).target.sum().item<float>(), 0);
  }
}

TEST(PatchSampler, CasesWithoutForegroundFallBackToRandomPatches) {
  PatchSamplerOptions o;
  o.patch = {8, 8, 8};
  o.foreground_fraction = 1.0;
  PatchSampler sampler({make_case({20, 20, 20}, 0, 0)}, o);
  std::mt19937_64 engine(5);
  std::set<int64_t> origins;
  for (int i = 0; i < 100; ++i) {
    const PatchDraw d = sampler.draw(engine);
    EXPECT_FALSE(d.foreground);
    origins.insert(d.lo[0]);
  }
  EXPECT_GT(origins.size(), 5u);
}

TEST(PatchSampler, PatchLargerThanTheCaseIsZeroPadded) {
  PatchSamplerOptions o;
  o.patch = {12, 12, 12};
  o.batch = 3;
  o.foreground_fraction = 0.5;
  PatchSampler sampler({make_case({6, 8, 10}, 2, 4)}, o);
  for (int i = 0; i < 20; ++i) {
    const Batch b = sampler.next();
    for (int64_t s = 0; s < 3; ++s) {
      // The whole case lies inside the patch; everything else is zero.
      EXPECT_EQ((b.image[s][0] != 0).sum().item<int64_t>(), 6 * 8 * 10);
      EXPECT_EQ(b.target[s][0].sum().item<float>(), 8.0f);
    }
  }
}

TEST(PatchSampler, PatchesMatchTheCaseVoxelsAtTheirOrigin) {
  PatchSamplerOptions o;
  o.patch = {5, 6, 7};
  const auto c = make_case({12, 13, 14}, 3, 9);
  PatchSampler sampler({c}, o);
  std::mt19937_64 engine(9);
  for (int i = 0; i < 20; ++i) {
    const PatchDraw d = sampler.draw(engine);
    const Batch b = sampler.extract({d});
    const torch::Tensor expected = c->image.slice(1, d.lo[0], d.lo[0] + 5)
                                       .slice(2, d.lo[1], d.lo[1] + 6)
                                       .slice(3, d.lo[2], d.lo[2] + 7);
    EXPECT_TRUE(torch::equal(b.image[0], expected));
  }
}

TEST(PatchSampler, SameSeedGivesTheSameBatchesAndOtherSeedsDiffer) {
  PatchSamplerOptions o;
  o.patch = {8, 8, 8};
  o.seed = 11;
  const Cases cases{make_case({20, 20, 20}, 5, 9), make_case({18, 22, 20}, 2, 6, 1)};
  PatchSampler a(cases, o), b(cases, o);
  o.seed = 12;
  PatchSampler c(cases, o);
  bool any_difference = false;
  for (int i = 0; i < 10; ++i) {
    const Batch ba = a.next(), bb = b.next(), bc = c.next();
    EXPECT_TRUE(same(ba, bb));
    any_difference |= !same(ba, bc);
  }
  EXPECT_TRUE(any_difference);
}

TEST(PatchSampler, RestoringTheStateResumesTheSameSequence) {
  PatchSamplerOptions o;
  o.patch = {8, 8, 8};
  PatchSampler sampler({make_case({20, 20, 20}, 5, 9)}, o);
  sampler.next();
  const std::string saved = sampler.state();
  const Batch first = sampler.next(), second = sampler.next();
  PatchSampler resumed({make_case({20, 20, 20}, 5, 9)}, o);
  resumed.set_state(saved);
  EXPECT_TRUE(same(resumed.next(), first));
  EXPECT_TRUE(same(resumed.next(), second));
  EXPECT_EQ(resumed.state(), sampler.state());
  EXPECT_THROW(resumed.set_state("not a state"), revunet::Error);
  EXPECT_THROW(resumed.set_state(saved + " 17"), revunet::Error);
}

TEST(PatchSampler, BatchAtDependsOnlyOnTheIndex) {
  PatchSamplerOptions o;
  o.patch = {8, 8, 8};
  PatchSampler sampler({make_case({20, 20, 20}, 5, 9)}, o);
  const Batch five = sampler.batch_at(5);
  sampler.next();
  EXPECT_TRUE(same(sampler.batch_at(5), five));
  EXPECT_FALSE(same(sampler.batch_at(6), five));
}

TEST(PatchSampler, ForegroundVoxelsAreThinnedToTheLimit) {
  PatchSamplerOptions o;
  o.patch = {8, 8, 8};
  o.max_foreground_voxels_per_region = 100;
  PatchSampler sampler({make_case({20, 20, 20}, 2, 12), make_case({20, 20, 20}, 2, 5)}, o);
  EXPECT_EQ(sampler.foreground_voxels(0, 0).size(), 100u);
  EXPECT_EQ(sampler.foreground_voxels(1, 2).size(), 27u);
}

TEST(PatchSampler, RejectsCasesItCannotTrainOn) {
  auto unlabelled = std::make_shared<PreprocessedCase>(*make_case({8, 8, 8}, 0, 0));
  unlabelled->regions = torch::Tensor();
  EXPECT_THROW(PatchSampler({unlabelled}, {}), c10::Error);
  EXPECT_THROW(PatchSampler({}, {}), c10::Error);
  PatchSamplerOptions bad;
  bad.foreground_fraction = 1.5;
  EXPECT_THROW(PatchSampler({make_case({8, 8, 8}, 0, 0)}, bad), c10::Error);
}

TEST(PatchSamplerRandom, UniformIntCoversItsRangeEvenly) {
  std::mt19937_64 engine(1);
  std::array<int, 7> counts{};
  for (int i = 0; i < 7000; ++i) ++counts[rng::uniform_int(engine, -3, 3) + 3];
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
  EXPECT_EQ(rng::uniform_int(engine, 4, 4), 4);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng::uniform01(engine);
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace revunet::data

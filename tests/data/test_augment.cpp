#include "revunet/data/augment.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace revunet::data {
namespace {

constexpr int64_t kP0 = 24, kP1 = 28, kP2 = 32;  // non-cubic on purpose

// Channels 0..2 hold each voxel's own X, Y, Z index and channel 3 is 1: after trilinear
// resampling the image says exactly where each output voxel was sampled from, and channel 3 < 1
// marks voxels that touched the zero padding.
torch::Tensor coordinate_image(int64_t batch) {
  const auto grids =
      torch::meshgrid({torch::arange(kP0, torch::kFloat), torch::arange(kP1, torch::kFloat),
                       torch::arange(kP2, torch::kFloat)},
                      "ij");
  const torch::Tensor one =
      torch::stack({grids[0], grids[1], grids[2], torch::ones_like(grids[0])});
  return one.unsqueeze(0).repeat({batch, 1, 1, 1, 1});
}

// Three binary patterns of integer coordinates (like region maps, but with many edges).
torch::Tensor pattern(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& z) {
  const torch::Tensor a =
      (torch::floor(x / 3) + torch::floor(y / 4) + torch::floor(z / 5)).remainder(2);
  const torch::Tensor b = (x * 7 + y * 3 + z).remainder(5) == 0;
  const torch::Tensor c = x > y;
  return torch::stack({a, b.to(torch::kFloat), c.to(torch::kFloat)}, 1);
}

Batch coordinate_batch(int64_t batch) {
  Batch b;
  b.image = coordinate_image(batch);
  b.target = pattern(b.image.select(1, 0), b.image.select(1, 1), b.image.select(1, 2));
  return b;
}

// Checks that each output voxel's target is the pattern at the input voxel nearest to where its
// image was sampled from. Returns how many voxels could be checked.
int64_t expect_aligned(const Batch& out) {
  const torch::Tensor coords = out.image.slice(1, 0, 3);
  const torch::Tensor rounded = torch::round(coords);
  const torch::Tensor frac = (coords - torch::floor(coords) - 0.5).abs();
  // Inside the volume (no padding mixed in) and not on a rounding tie.
  const torch::Tensor checkable = (out.image.select(1, 3) > 1 - 1e-4) & (frac > 0.01).all(1);
  const torch::Tensor expected =
      pattern(rounded.select(1, 0), rounded.select(1, 1), rounded.select(1, 2));
  const torch::Tensor mismatch = (out.target != expected).any(1) & checkable;
  EXPECT_EQ(mismatch.sum().item<int64_t>(), 0);
  return checkable.sum().item<int64_t>();
}

TEST(Augmenter, TargetStaysAlignedWithTheImageUnderRotationScalingAndFlips) {
  AugmentOptions o = AugmentOptions::none();
  o.flip_probability = {0.5, 0.5, 0.5};
  o.rotation_probability = 1;
  o.scale_probability = 1;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    Augmenter augmenter(o, seed);
    const Batch out = augmenter.apply(coordinate_batch(2));
    ASSERT_EQ(out.image.sizes(), (std::vector<int64_t>{2, 4, kP0, kP1, kP2}));
    ASSERT_EQ(out.target.sizes(), (std::vector<int64_t>{2, 3, kP0, kP1, kP2}));
    EXPECT_GT(expect_aligned(out), out.target.numel() / 3 / 4) << "seed " << seed;
    // Nearest sampling keeps the targets binary.
    EXPECT_TRUE(((out.target == 0) | (out.target == 1)).all().item<bool>());
  }
}

TEST(Augmenter, RotationIsRigidAndScalingZoomsOnNonCubicPatches) {
  const Augmenter augmenter(AugmentOptions::none(), 0);
  for (double zoom : {1.0, 1.2}) {
    std::mt19937_64 engine(1);
    AugmentDraw d = augmenter.draw(engine, 4);
    d.rotate = true;
    d.angles_degrees = {10, -12, 14};
    d.scale = zoom != 1.0;
    d.scale_factor = zoom;
    torch::Tensor image = coordinate_image(1)[0], target;
    augmenter.apply_draw(d, &image, nullptr);
    // Neighbouring output voxels along each axis were sampled 1/zoom voxels apart.
    const torch::Tensor inside = image[3] > 1 - 1e-4;
    for (int64_t axis = 1; axis <= 3; ++axis) {
      const int64_t n = image.size(axis);
      const torch::Tensor step =
          (image.slice(axis, 1, n) - image.slice(axis, 0, n - 1)).slice(0, 0, 3).norm(2, 0);
      const torch::Tensor both = inside.slice(axis - 1, 1, n) & inside.slice(axis - 1, 0, n - 1);
      const torch::Tensor err = (step.masked_select(both) - 1.0 / zoom).abs();
      ASSERT_GT(err.numel(), 1000);
      EXPECT_LT(err.max().item<float>(), 1e-3) << "axis " << axis << " zoom " << zoom;
    }
  }
}

TEST(Augmenter, AugmentsOnTheBatchDeviceKeepingAlignment) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device";
  AugmentOptions o = AugmentOptions::none();
  o.flip_probability = {0.5, 0.5, 0.5};
  o.rotation_probability = 1;
  o.scale_probability = 1;
  Augmenter augmenter(o, 2);
  Batch in = coordinate_batch(2);
  in.image = in.image.cuda();
  in.target = in.target.cuda();
  Batch out = augmenter.apply(in);
  ASSERT_TRUE(out.image.is_cuda());
  out.image = out.image.cpu();
  out.target = out.target.cpu();
  EXPECT_GT(expect_aligned(out), out.target.numel() / 3 / 4);
}

TEST(Augmenter, FlipsAreExact) {
  for (int axis = 0; axis < 3; ++axis) {
    AugmentOptions o = AugmentOptions::none();
    o.flip_probability[axis] = 1;
    Augmenter augmenter(o, 5);
    const Batch in = coordinate_batch(2);
    const Batch out = augmenter.apply(in);
    EXPECT_TRUE(torch::equal(out.image, in.image.flip({axis + 2})));
    EXPECT_TRUE(torch::equal(out.target, in.target.flip({axis + 2})));
  }
}

TEST(Augmenter, NoAugmentationLeavesTheBatchUnchanged) {
  Augmenter augmenter(AugmentOptions::none(), 0);
  const Batch in = coordinate_batch(2);
  const Batch out = augmenter.apply(in);
  EXPECT_TRUE(torch::equal(out.image, in.image));
  EXPECT_TRUE(torch::equal(out.target, in.target));
}

Batch brain_batch() {
  torch::manual_seed(4);
  Batch b;
  b.image = torch::randn({2, 4, 16, 16, 16});
  b.image.slice(2, 0, 5).zero_();  // background
  b.target = torch::zeros({2, 3, 16, 16, 16});
  return b;
}

TEST(Augmenter, IntensityAugmentationsKeepTheBackgroundZero) {
  AugmentOptions o = AugmentOptions::none();
  o.intensity_scale_probability = 1;
  o.intensity_shift_probability = 1;
  o.gamma_probability = 1;
  Augmenter augmenter(o, 8);
  const Batch in = brain_batch();
  const Batch out = augmenter.apply(in);
  const torch::Tensor background = in.image == 0;
  EXPECT_EQ(out.image.masked_select(background).abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::isfinite(out.image).all().item<bool>());
  EXPECT_GT((out.image - in.image).abs().max().item<float>(), 1e-3);
  EXPECT_TRUE(torch::equal(out.target, in.target));
}

TEST(Augmenter, IntensityScaleAndShiftStayInTheirRanges) {
  const Batch in = brain_batch();
  const torch::Tensor brain = in.image != 0;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    AugmentOptions o = AugmentOptions::none();
    o.intensity_scale_probability = 1;
    const Batch scaled = Augmenter(o, seed).apply(in);
    const torch::Tensor ratio = scaled.image.masked_select(brain) / in.image.masked_select(brain);
    EXPECT_GE(ratio.min().item<float>(), 0.9f - 1e-5f);
    EXPECT_LE(ratio.max().item<float>(), 1.1f + 1e-5f);

    o = AugmentOptions::none();
    o.intensity_shift_probability = 1;
    const Batch shifted = Augmenter(o, seed).apply(in);
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t c = 0; c < 4; ++c) {
        const torch::Tensor m = brain[b][c];
        const torch::Tensor diff = (shifted.image[b][c] - in.image[b][c]).masked_select(m);
        const double std = in.image[b][c].masked_select(m).std(false).item<double>();
        // One shift per channel, within +-0.1 std.
        EXPECT_LT((diff - diff[0]).abs().max().item<float>(), 1e-5);
        EXPECT_LE(std::abs(diff[0].item<double>()), 0.1 * std + 1e-5);
      }
    }
  }
}

TEST(Augmenter, GammaKeepsTheBrainIntensityRange) {
  AugmentOptions o = AugmentOptions::none();
  o.gamma_probability = 1;
  const Batch in = brain_batch();
  const Batch out = Augmenter(o, 3).apply(in);
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t c = 0; c < 4; ++c) {
      const torch::Tensor m = in.image[b][c] != 0;
      const torch::Tensor before = in.image[b][c].masked_select(m);
      const torch::Tensor after = out.image[b][c].masked_select(m);
      EXPECT_NEAR(after.min().item<float>(), before.min().item<float>(), 1e-5);
      EXPECT_NEAR(after.max().item<float>(), before.max().item<float>(), 1e-5);
      // Monotone: the brightest voxel stays the brightest.
      EXPECT_EQ(after.argmax().item<int64_t>(), before.argmax().item<int64_t>());
    }
  }
}

TEST(Augmenter, IsDeterministicPerSeedAndResumesFromItsState) {
  AugmentOptions o;  // the defaults: everything possible
  o.rotation_probability = 0.5;
  Augmenter a(o, 21), b(o, 21), c(o, 22);
  const Batch in = brain_batch();
  bool any_difference = false;
  for (int i = 0; i < 4; ++i) {
    const Batch x = a.apply(in), y = b.apply(in), z = c.apply(in);
    EXPECT_TRUE(torch::equal(x.image, y.image));
    any_difference |= !torch::equal(x.image, z.image);
  }
  EXPECT_TRUE(any_difference);

  const std::string saved = a.state();
  const Batch next = a.apply(in);
  c.set_state(saved);
  EXPECT_TRUE(torch::equal(c.apply(in).image, next.image));

  EXPECT_TRUE(torch::equal(a.apply_at(in, 3).image, b.apply_at(in, 3).image));
  EXPECT_TRUE(torch::equal(a.apply_at(in, 3).image, a.apply_at(in, 3).image));
}

TEST(Augmenter, EachSampleGetsItsOwnDraw) {
  AugmentOptions o = AugmentOptions::none();
  o.intensity_scale_probability = 1;
  Augmenter augmenter(o, 1);
  Batch in = brain_batch();
  in.image[1].copy_(in.image[0]);
  const Batch out = augmenter.apply(in);
  EXPECT_FALSE(torch::equal(out.image[0], out.image[1]));
}

}  // namespace
}  // namespace revunet::data

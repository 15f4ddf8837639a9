#include "revunet/infer/sliding_window.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace revunet::infer {
namespace {

SlidingWindowOptions options(std::array<int64_t, 3> window, double overlap, int64_t batch) {
  SlidingWindowOptions o;
  o.window = window;
  o.overlap = overlap;
  o.batch = batch;
  return o;
}

// {3, X, Y, Z} whose channels hold each voxel's x, y and z index.
torch::Tensor coordinates(int64_t X, int64_t Y, int64_t Z) {
  const auto grids =
      torch::meshgrid({torch::arange(X, torch::kFloat32), torch::arange(Y, torch::kFloat32),
                       torch::arange(Z, torch::kFloat32)});
  return torch::stack(grids);
}

TEST(WindowStarts, StepByWindowTimesOneMinusOverlapAndEndAtTheBorder) {
  EXPECT_EQ(window_starts(20, 8, 0.5), (std::vector<int64_t>{0, 4, 8, 12}));
  EXPECT_EQ(window_starts(17, 8, 0.5), (std::vector<int64_t>{0, 4, 8, 9}));
  EXPECT_EQ(window_starts(9, 8, 0.5), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(window_starts(8, 8, 0.5), (std::vector<int64_t>{0}));
  EXPECT_EQ(window_starts(16, 8, 0.0), (std::vector<int64_t>{0, 8}));
  EXPECT_EQ(window_starts(5, 2, 0.9), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_THROW(window_starts(7, 8, 0.5), c10::Error);
}

TEST(GaussianImportance, PeaksAtOneInTheCentreAndIsNeverZero) {
  const torch::Tensor g = gaussian_importance({16, 9, 4}, 0.125);
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{16, 9, 4}));
  EXPECT_FLOAT_EQ(g.max().item<float>(), g.index({8, 4, 2}).item<float>());
  EXPECT_LE(g.max().item<float>(), 1.0f);
  EXPECT_GE(g.min().item<float>(), 1e-4f);
  EXPECT_TRUE(torch::equal(g, g.flip({0, 1, 2})));
}

TEST(SlidingWindowPredict, IdentityPredictorReproducesTheImageForAnyOverlapSizeAndBatch) {
  torch::manual_seed(0);
  const Predictor identity = [](const torch::Tensor& w) { return w.clone(); };
  const std::vector<std::vector<int64_t>> shapes = {
      {2, 13, 9, 17}, {1, 8, 8, 8}, {2, 5, 11, 3} /* smaller than the window on x and z */};
  for (const auto& shape : shapes) {
    const torch::Tensor image = torch::randn(shape);
    for (double overlap : {0.0, 0.25, 0.5, 0.8}) {
      for (int64_t batch : {1, 3}) {
        const torch::Tensor out =
            sliding_window_predict(image, identity, shape[0], options({8, 8, 8}, overlap, batch));
        ASSERT_EQ(out.sizes(), image.sizes());
        EXPECT_EQ(out.scalar_type(), torch::kFloat32);
        EXPECT_TRUE(torch::allclose(out, image, 1e-5, 1e-6))
            << "shape " << image.sizes() << " overlap " << overlap << " batch " << batch;
      }
    }
  }
}

TEST(SlidingWindowPredict, PredictorReturningGlobalCoordinatesReproducesThem) {
  // The predictor only sees where the window's first voxel lies (read from the coordinate
  // image) and fills in coordinates itself: windows must be cut and pasted at the same places.
  const torch::Tensor image = coordinates(19, 10, 13);
  const SlidingWindowOptions o = options({8, 6, 7}, 0.4, 2);
  const Predictor predictor = [&](const torch::Tensor& w) {
    std::vector<torch::Tensor> out;
    for (int64_t b = 0; b < w.size(0); ++b) {
      const auto origin = w[b].index({torch::indexing::Slice(), 0, 0, 0});
      const torch::Tensor local = coordinates(8, 6, 7);
      out.push_back(local + origin.view({3, 1, 1, 1}));
    }
    return torch::stack(out);
  };
  const torch::Tensor got = sliding_window_predict(image, predictor, 3, o);
  EXPECT_TRUE(torch::allclose(got, image, 1e-5, 1e-5));
}

TEST(SlidingWindowPredict, CallsThePredictorOncePerBatchOfWindowsAndFlip) {
  const torch::Tensor image = torch::rand({1, 20, 17, 9});
  int64_t calls = 0;
  int64_t windows_seen = 0;
  const Predictor count = [&](const torch::Tensor& w) {
    ++calls;
    windows_seen += w.size(0);
    return w.repeat({1, 2, 1, 1, 1});
  };
  SlidingWindowOptions o = options({8, 8, 8}, 0.5, 3);
  EXPECT_EQ(count_windows({20, 17, 9}, o), 4 * 4 * 2);
  sliding_window_predict(image, count, 2, o);
  EXPECT_EQ(calls, 11);  // ceil(32 / 3)
  EXPECT_EQ(windows_seen, 32);

  calls = 0;
  o.mirror = true;
  sliding_window_predict(image, count, 2, o);
  EXPECT_EQ(calls, 11 * 8);
  calls = 0;
  o.mirror_axes = {true, false, true};
  EXPECT_EQ(mirror_combinations(o).size(), 4u);
  sliding_window_predict(image, count, 2, o);
  EXPECT_EQ(calls, 11 * 4);
}

TEST(SlidingWindowPredict, MirroringAFlipEquivariantPredictorChangesNothing) {
  torch::manual_seed(1);
  const torch::Tensor image = torch::rand({2, 14, 11, 9});
  // A symmetric 3x3x3 mean filter (zero padded) and a pointwise square commute with flips.
  const Predictor predictor = [](const torch::Tensor& w) {
    const auto blurred = torch::avg_pool3d(w, 3, 1, 1, false, true);
    return torch::cat({blurred, w * w}, 1);
  };
  SlidingWindowOptions o = options({8, 8, 6}, 0.5, 2);
  const torch::Tensor plain = sliding_window_predict(image, predictor, 4, o);
  o.mirror = true;
  const torch::Tensor mirrored = sliding_window_predict(image, predictor, 4, o);
  EXPECT_TRUE(torch::allclose(plain, mirrored, 1e-5, 1e-6));

  // A predictor that is not flip-equivariant (a ramp along x) is averaged with its mirror image.
  const Predictor ramp = [](const torch::Tensor& w) {
    return torch::zeros_like(w.narrow(1, 0, 1)) +
           torch::arange(w.size(2), torch::kFloat32).view({1, 1, -1, 1, 1});
  };
  o.mirror_axes = {true, false, false};
  const torch::Tensor averaged = sliding_window_predict(image, ramp, 1, o);
  EXPECT_TRUE(torch::allclose(averaged, torch::full_like(averaged, 3.5), 1e-5, 1e-6));
}

TEST(SlidingWindowPredict, RejectsAPredictorWithTheWrongOutputShape) {
  const Predictor wrong = [](const torch::Tensor& w) { return w.narrow(2, 0, 4); };
  EXPECT_THROW(
      sliding_window_predict(torch::rand({1, 8, 8, 8}), wrong, 1, options({8, 8, 8}, 0.5, 1)),
      c10::Error);
  EXPECT_THROW(sliding_window_predict(torch::rand({8, 8, 8}), wrong, 1, options({8, 8, 8}, 0.5, 1)),
               c10::Error);
  EXPECT_THROW(
      sliding_window_predict(torch::rand({1, 8, 8, 8}), wrong, 1, options({8, 8, 8}, 1.0, 1)),
      c10::Error);
}

TEST(SlidingWindowPredict, RunsWindowsOnCudaAndAccumulatesOnTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "CUDA is not available";
  torch::manual_seed(2);
  const torch::Tensor image = torch::rand({2, 21, 18, 13});
  SlidingWindowOptions o = options({8, 8, 8}, 0.5, 4);
  o.device = torch::Device(torch::kCUDA, 0);
  o.mirror = true;
  bool on_cuda = true;
  const Predictor predictor = [&](const torch::Tensor& w) {
    on_cuda = on_cuda && w.is_cuda();
    return torch::sigmoid(w);
  };
  const torch::Tensor out = sliding_window_predict(image, predictor, 2, o);
  EXPECT_TRUE(on_cuda);
  EXPECT_TRUE(out.device().is_cpu());
  EXPECT_TRUE(torch::allclose(out, torch::sigmoid(image), 1e-5, 1e-6));
}

}  // namespace
}  // namespace revunet::infer

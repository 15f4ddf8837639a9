// Whole-volume prediction from a window-sized predictor: overlapping windows, Gaussian
// importance blending and optional mirroring test-time augmentation. Knows nothing of the model
// or of training: the predictor is any function from windows to per-voxel outputs.
#pragma once

#include <c10/core/Device.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace revunet::infer {

// windows {B, C, wx, wy, wz} on the options' device -> {B, K, wx, wy, wz} (on any device).
// Probabilities or logits, as the caller likes: blending is a weighted mean, so it is linear.
using Predictor = std::function<torch::Tensor(const torch::Tensor& windows)>;

struct SlidingWindowOptions {
  std::array<int64_t, 3> window = {128, 128, 128};
  // Fraction of the window shared by neighbours: step = max(1, floor(window * (1 - overlap))).
  double overlap = 0.5;
  // Gaussian importance sigma per axis = sigma_scale * window (nnU-Net's 1/8).
  double sigma_scale = 0.125;
  int64_t batch = 1;  // windows per predictor call
  // Mirroring TTA: each window is also predicted flipped along every non-empty subset of
  // `mirror_axes` (all 8 combinations for three axes), flipped back, and the results averaged.
  bool mirror = false;
  std::array<bool, 3> mirror_axes = {true, true, true};
  c10::Device device = c10::kCPU;  // where windows run; accumulators stay on the CPU
};

// Window start positions along one axis of `size` voxels (size >= window): 0, step, 2 step, ...
// with the last window shifted back to end exactly at the border.
std::vector<int64_t> window_starts(int64_t size, int64_t window, double overlap);

// The flip combinations one window is predicted under (the first is "no flip"): lists of
// spatial axes 0..2 (tensor dims 2..4 of a window batch).
std::vector<std::vector<int64_t>> mirror_combinations(const SlidingWindowOptions& options);

// Number of windows for an image of spatial shape `spatial` (after padding to the window).
int64_t count_windows(const std::array<int64_t, 3>& spatial, const SlidingWindowOptions& options);

// Gaussian importance map {wx, wy, wz} (float32, maximum 1, minimum clamped to 1e-4 so that no
// voxel is ever weighted zero, even in a corner covered by a single window).
torch::Tensor gaussian_importance(const std::array<int64_t, 3>& window, double sigma_scale);

// Predicts a whole image {C, X, Y, Z} (CPU) -> {K, X, Y, Z} float32 on the CPU, K =
// out_channels. Axes smaller than the window are zero-padded (centred) and cropped back after.
// Runs under NoGradGuard. The predictor is called ceil(windows / batch) times per flip
// combination.
torch::Tensor sliding_window_predict(const torch::Tensor& image, const Predictor& predictor,
                                     int64_t out_channels, const SlidingWindowOptions& options);

}  // namespace revunet::infer

// Training-time augmentation of a batch: mirroring, spatial scaling and rotation (one resampling
// grid per sample, trilinear for the image and nearest for the targets, so they stay aligned),
// then intensity scale, shift and gamma on the brain (non-zero) voxels only. Each sample of a
// batch gets its own random draw; the draws come from the augmenter's own engine (or from a seed
// derived from a batch index), never from a global RNG.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "revunet/data/patch_sampler.h"

namespace revunet::data {

struct AugmentOptions {
  // Mirroring of each spatial axis (tensor dims X, Y, Z) with this probability.
  std::array<double, 3> flip_probability{0.5, 0.5, 0.5};
  // Isotropic zoom: > 1 magnifies the content.
  double scale_probability = 0.2;
  std::array<double, 2> scale_range{0.85, 1.25};
  // Rotation about each axis by an angle drawn from +-rotation_max_degrees.
  double rotation_probability = 0.2;
  double rotation_max_degrees = 15;
  // Per channel: x *= factor.
  double intensity_scale_probability = 0.15;
  std::array<double, 2> intensity_scale_range{0.9, 1.1};
  // Per channel: x += shift * std(non-zero voxels of that channel).
  double intensity_shift_probability = 0.15;
  std::array<double, 2> intensity_shift_range{-0.1, 0.1};
  // Per channel: the non-zero voxels rescaled to [0, 1], raised to gamma, rescaled back.
  double gamma_probability = 0.3;
  std::array<double, 2> gamma_range{0.7, 1.5};

  // No augmentation at all (a starting point for enabling single transforms).
  static AugmentOptions none();
};

// What was drawn for one sample (exposed for tests and logging).
struct AugmentDraw {
  std::array<bool, 3> flip{false, false, false};
  bool scale = false;
  double scale_factor = 1;
  bool rotate = false;
  std::array<double, 3> angles_degrees{0, 0, 0};  // about the X, Y, Z axes
  bool intensity_scale = false;
  bool intensity_shift = false;
  bool gamma = false;
  std::vector<double> channel_scale, channel_shift, channel_gamma;
};

class Augmenter {
 public:
  Augmenter(AugmentOptions options, uint64_t seed);

  // Augments every sample of `batch` ({B,C,P0,P1,P2} image, {B,3,P0,P1,P2} target or undefined)
  // with the next draws from the augmenter's engine.
  Batch apply(Batch batch);

  // The same with an engine seeded by (seed, index) alone: thread-safe, for BatchPrefetcher.
  Batch apply_at(Batch batch, uint64_t index) const;

  // One sample's draw from `engine`; every call takes the same amount of randomness whatever is
  // enabled, so changing one probability does not reshuffle the others.
  AugmentDraw draw(std::mt19937_64& engine, int64_t channels) const;
  // Applies `draw` to one sample: image {C,P0,P1,P2}, target {3,P0,P1,P2} or undefined.
  void apply_draw(const AugmentDraw& draw, torch::Tensor* image, torch::Tensor* target) const;

  std::string state() const;
  void set_state(const std::string& state);

  const AugmentOptions& options() const { return options_; }

 private:
  Batch apply_with(Batch batch, std::mt19937_64& engine) const;

  AugmentOptions options_;
  uint64_t seed_;
  std::mt19937_64 engine_;
};

}  // namespace revunet::data

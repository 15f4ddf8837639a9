// Random training patches from preprocessed cases. A configurable fraction of patches is centred
// on a foreground voxel (so small tumours are seen often enough); the rest are placed uniformly.
// Every draw comes from the sampler's own std::mt19937_64 through portable helpers (the standard
// distributions differ between standard libraries), so a seed gives the same batches everywhere,
// and the engine state can be saved and restored to resume training exactly.
#pragma once

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "revunet/data/preprocess.h"

namespace revunet::data {

// Portable random draws (the same numbers on every platform for the same engine state).
namespace rng {
// Mixes a seed with stream indices (splitmix64), so each batch index gets an independent stream.
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0);
// Uniform in [0, 1).
double uniform01(std::mt19937_64& engine);
// Uniform in [lo, hi).
double uniform(std::mt19937_64& engine, double lo, double hi);
// Uniform integer in [lo, hi] (inclusive, lo <= hi), without modulo bias.
int64_t uniform_int(std::mt19937_64& engine, int64_t lo, int64_t hi);
// The engine's state as text (the standard's portable representation), and back. set_state
// throws revunet::Error naming `what` when the text is not a state.
std::string engine_state(const std::mt19937_64& engine);
void set_engine_state(std::mt19937_64& engine, const std::string& state, const std::string& what);
}  // namespace rng

struct PatchSamplerOptions {
  std::array<int64_t, 3> patch{128, 128, 128};
  int64_t batch = 2;
  // Probability that a patch is centred on a foreground voxel (any region channel > 0).
  double foreground_fraction = 1.0 / 3;
  uint64_t seed = 0;
  // Foreground voxels remembered per region channel and case (a strided subset beyond this), to
  // bound memory on large datasets; the centre is drawn from these.
  int64_t max_foreground_voxels_per_region = 4096;
};

struct Batch {
  torch::Tensor image;   // float32 {B, C, P0, P1, P2}
  torch::Tensor target;  // float32 {B, 3, P0, P1, P2} region targets (WT, TC, ET)
};

// Where one patch comes from, in the case's voxel grid. `lo` may be negative or extend past the
// case where the patch is larger than the case (or centring needs it): those voxels are zero.
struct PatchDraw {
  size_t case_index = 0;
  std::array<int64_t, 3> lo{0, 0, 0};
  bool foreground = false;  // true when the patch was centred on a foreground voxel
};

class PatchSampler {
 public:
  // Every case needs an image {C,X,Y,Z} and regions {3,X,Y,Z}, all with the same C.
  PatchSampler(std::vector<std::shared_ptr<const PreprocessedCase>> cases,
               PatchSamplerOptions options);

  // The next batch from the sampler's own engine.
  Batch next();

  // Batch number `index` from an engine seeded by (seed, index) alone: independent of calls to
  // next() and of other indices, so several threads can produce batches in a deterministic order.
  // Thread-safe.
  Batch batch_at(uint64_t index) const;

  // One draw from `engine` (exposed for tests and tools), and the patch it describes.
  PatchDraw draw(std::mt19937_64& engine) const;
  Batch extract(const std::vector<PatchDraw>& draws) const;

  // The engine state of next(); set_state(state()) resumes the same sequence of batches.
  std::string state() const;
  void set_state(const std::string& state);

  const PatchSamplerOptions& options() const { return options_; }
  size_t num_cases() const { return cases_.size(); }
  // Foreground voxels remembered for case `i`, region channel `r` (flat indices into X*Y*Z).
  const std::vector<int64_t>& foreground_voxels(size_t i, int r) const {
    return foreground_[i][static_cast<size_t>(r)];
  }

 private:
  Batch sample(std::mt19937_64& engine) const;

  std::vector<std::shared_ptr<const PreprocessedCase>> cases_;
  PatchSamplerOptions options_;
  std::vector<std::array<std::vector<int64_t>, 3>> foreground_;
  std::mt19937_64 engine_;
};

}  // namespace revunet::data

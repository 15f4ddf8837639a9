#include "revunet/data/patch_sampler.h"

#include <torch/torch.h>

#include <algorithm>
#include <locale>
#include <sstream>
#include <utility>

#include "revunet/core/error.h"

namespace revunet::data {
namespace rng {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ (b * 0xd1b54a32d192ed03ULL));
}

double uniform01(std::mt19937_64& engine) {
  // The top 53 bits give every double in [0, 1) on a 2^-53 grid.
  return static_cast<double>(engine() >> 11) * 0x1.0p-53;
}

double uniform(std::mt19937_64& engine, double lo, double hi) {
  return lo + (hi - lo) * uniform01(engine);
}

int64_t uniform_int(std::mt19937_64& engine, int64_t lo, int64_t hi) {
  TORCH_CHECK(lo <= hi, "uniform_int: empty range [", lo, ", ", hi, "]");
  const uint64_t n = static_cast<uint64_t>(hi - lo) + 1;
  if (n == 0) return static_cast<int64_t>(engine());  // the full 64-bit range
  // Reject the first 2^64 mod n values so every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  uint64_t r = engine();
  while (r < threshold) r = engine();
  return lo + static_cast<int64_t>(r % n);
}

std::string engine_state(const std::mt19937_64& engine) {
  std::ostringstream os;
  os.imbue(std::locale::classic());
  os << engine;
  return os.str();
}

void set_engine_state(std::mt19937_64& engine, const std::string& state, const std::string& what) {
  std::istringstream is(state);
  is.imbue(std::locale::classic());
  std::mt19937_64 restored;
  is >> restored;
  if (is.fail()) fail(what, "the saved random state is not a mt19937_64 state");
  is >> std::ws;
  if (!is.eof()) fail(what, "the saved random state has trailing text");
  engine = restored;
}

}  // namespace rng

namespace {

// Flat indices of the non-zero voxels of `mask` {X,Y,Z}, thinned to at most `limit` by an even
// stride (keeps the spatial spread of a large tumour).
std::vector<int64_t> foreground_indices(const torch::Tensor& mask, int64_t limit) {
  const torch::Tensor flat = mask.reshape({-1}).nonzero().reshape({-1}).contiguous();
  const int64_t n = flat.numel();
  const int64_t* p = flat.data_ptr<int64_t>();
  std::vector<int64_t> out;
  if (n <= limit) {
    out.assign(p, p + n);
  } else {
    out.reserve(static_cast<size_t>(limit));
    for (int64_t i = 0; i < limit; ++i) out.push_back(p[i * n / limit]);
  }
  return out;
}

}  // namespace

PatchSampler::PatchSampler(std::vector<std::shared_ptr<const PreprocessedCase>> cases,
                           PatchSamplerOptions options)
    : cases_(std::move(cases)), options_(options), engine_(options.seed) {
  TORCH_CHECK(!cases_.empty(), "PatchSampler needs at least one case");
  for (int64_t p : options_.patch) {
    TORCH_CHECK(p > 0, "PatchSampler: patch sizes must be positive, got [", options_.patch[0], ", ",
                options_.patch[1], ", ", options_.patch[2], "]");
  }
  TORCH_CHECK(options_.batch > 0, "PatchSampler: batch must be positive, got ", options_.batch);
  TORCH_CHECK(options_.foreground_fraction >= 0 && options_.foreground_fraction <= 1,
              "PatchSampler: foreground_fraction must be in [0, 1], got ",
              options_.foreground_fraction);
  TORCH_CHECK(options_.max_foreground_voxels_per_region > 0,
              "PatchSampler: max_foreground_voxels_per_region must be positive, got ",
              options_.max_foreground_voxels_per_region);
  const int64_t channels = cases_[0] ? cases_[0]->image.size(0) : 0;
  foreground_.reserve(cases_.size());
  for (const auto& c : cases_) {
    TORCH_CHECK(c != nullptr, "PatchSampler: a case pointer is null");
    TORCH_CHECK(c->image.dim() == 4 && c->image.scalar_type() == torch::kFloat,
                "PatchSampler: case ", c->id, " needs a float32 image {C,X,Y,Z}, got ",
                c->image.sizes(), " ", c->image.scalar_type());
    TORCH_CHECK(c->image.size(0) == channels, "PatchSampler: case ", c->id, " has ",
                c->image.size(0), " channels, the first case has ", channels);
    TORCH_CHECK(c->regions.defined(), "PatchSampler: case ", c->id,
                " has no region targets (an inference-only case cannot be trained on)");
    TORCH_CHECK(c->regions.dim() == 4 && c->regions.size(0) == 3 &&
                    spatial_shape(c->regions) == spatial_shape(c->image),
                "PatchSampler: case ", c->id, " regions must be {3,X,Y,Z} matching image ",
                c->image.sizes(), ", got ", c->regions.sizes());
    std::array<std::vector<int64_t>, 3> fg;
    for (int r = 0; r < 3; ++r) {
      fg[r] = foreground_indices(c->regions[r].ne(0), options_.max_foreground_voxels_per_region);
    }
    foreground_.push_back(std::move(fg));
  }
}

PatchDraw PatchSampler::draw(std::mt19937_64& engine) const {
  PatchDraw d;
  d.case_index =
      static_cast<size_t>(rng::uniform_int(engine, 0, static_cast<int64_t>(cases_.size()) - 1));
  const auto shape = spatial_shape(cases_[d.case_index]->image);
  const auto& fg = foreground_[d.case_index];
  const bool want_foreground = rng::uniform01(engine) < options_.foreground_fraction;

  // Allowed patch origins per axis: inside the case, or covering it when the patch is larger.
  std::array<int64_t, 3> lo_min, lo_max;
  for (int a = 0; a < 3; ++a) {
    lo_min[a] = std::min<int64_t>(0, shape[a] - options_.patch[a]);
    lo_max[a] = std::max<int64_t>(0, shape[a] - options_.patch[a]);
  }

  std::vector<int> present;
  for (int r = 0; r < 3; ++r) {
    if (!fg[r].empty()) present.push_back(r);
  }
  if (want_foreground && !present.empty()) {
    // A region first, then a voxel of it: the small enhancing tumour is centred as often as the
    // large oedema (regions are nested, so every choice is tumour).
    const int r = present[static_cast<size_t>(
        rng::uniform_int(engine, 0, static_cast<int64_t>(present.size()) - 1))];
    const int64_t flat = fg[r][static_cast<size_t>(
        rng::uniform_int(engine, 0, static_cast<int64_t>(fg[r].size()) - 1))];
    const std::array<int64_t, 3> v{flat / (shape[1] * shape[2]), (flat / shape[2]) % shape[1],
                                   flat % shape[2]};
    // Centre the patch on v; near a border shift it back inside (v stays in the patch).
    for (int a = 0; a < 3; ++a) {
      d.lo[a] = std::clamp(v[a] - options_.patch[a] / 2, lo_min[a], lo_max[a]);
    }
    d.foreground = true;
  } else {
    for (int a = 0; a < 3; ++a) d.lo[a] = rng::uniform_int(engine, lo_min[a], lo_max[a]);
  }
  return d;
}

Batch PatchSampler::extract(const std::vector<PatchDraw>& draws) const {
  const auto& p = options_.patch;
  const int64_t b = static_cast<int64_t>(draws.size());
  const int64_t channels = cases_[0]->image.size(0);
  Batch out;
  // Uninitialised: only samples that need padding are zeroed (a 128^3 batch is ~70 MB).
  out.image = torch::empty({b, channels, p[0], p[1], p[2]}, torch::kFloat);
  out.target = torch::empty({b, 3, p[0], p[1], p[2]}, torch::kFloat);
  for (int64_t i = 0; i < b; ++i) {
    const PatchDraw& d = draws[static_cast<size_t>(i)];
    TORCH_CHECK(d.case_index < cases_.size(), "PatchSampler::extract: case index ", d.case_index,
                " out of ", cases_.size());
    const PreprocessedCase& c = *cases_[d.case_index];
    const auto shape = spatial_shape(c.image);
    torch::Tensor src_image = c.image, src_regions = c.regions;
    torch::Tensor dst_image = out.image[i], dst_target = out.target[i];
    bool padded = false;
    for (int a = 0; a < 3; ++a) padded |= d.lo[a] < 0 || d.lo[a] + p[a] > shape[a];
    if (padded) {
      dst_image.zero_();
      dst_target.zero_();
    }
    bool empty = false;
    for (int a = 0; a < 3; ++a) {
      // The overlap of the patch with the case; the rest of the patch stays zero (padding).
      const int64_t from = std::max<int64_t>(d.lo[a], 0);
      const int64_t to = std::min<int64_t>(d.lo[a] + p[a], shape[a]);
      if (to <= from) {
        empty = true;
        break;
      }
      src_image = src_image.narrow(a + 1, from, to - from);
      src_regions = src_regions.narrow(a + 1, from, to - from);
      dst_image = dst_image.narrow(a + 1, from - d.lo[a], to - from);
      dst_target = dst_target.narrow(a + 1, from - d.lo[a], to - from);
    }
    if (empty) continue;
    dst_image.copy_(src_image);
    dst_target.copy_(src_regions);
  }
  return out;
}

Batch PatchSampler::sample(std::mt19937_64& engine) const {
  std::vector<PatchDraw> draws;
  draws.reserve(static_cast<size_t>(options_.batch));
  for (int64_t i = 0; i < options_.batch; ++i) draws.push_back(draw(engine));
  return extract(draws);
}

Batch PatchSampler::next() {
  return sample(engine_);
}

Batch PatchSampler::batch_at(uint64_t index) const {
  std::mt19937_64 engine(rng::derive_seed(options_.seed, index));
  return sample(engine);
}

std::string PatchSampler::state() const {
  return rng::engine_state(engine_);
}

void PatchSampler::set_state(const std::string& state) {
  rng::set_engine_state(engine_, state, "PatchSampler::set_state");
}

}  // namespace revunet::data

#include "revunet/data/augment.h"

#include <torch/torch.h>

#include <cmath>
#include <utility>
#include <vector>

namespace revunet::data {
namespace {

namespace F = torch::nn::functional;
using Matrix3 = std::array<std::array<double, 3>, 3>;

Matrix3 multiply(const Matrix3& a, const Matrix3& b) {
  Matrix3 c{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) c[i][j] += a[i][k] * b[k][j];
    }
  }
  return c;
}

// Rotation by `degrees` about tensor axis `axis` (0 = X, 1 = Y, 2 = Z).
Matrix3 rotation(int axis, double degrees) {
  const double r = degrees * M_PI / 180.0, c = std::cos(r), s = std::sin(r);
  const int u = (axis + 1) % 3, v = (axis + 2) % 3;
  Matrix3 m{};
  m[axis][axis] = 1;
  m[u][u] = c;
  m[u][v] = -s;
  m[v][u] = s;
  m[v][v] = c;
  return m;
}

// A draw in [lo, hi] for gamma: half of the draws below 1, half above (as in nnU-Net), so
// brightening and darkening are equally likely even though the range is not symmetric about 1.
double draw_gamma(std::mt19937_64& engine, const std::array<double, 2>& range) {
  const bool below = rng::uniform01(engine) < 0.5;
  const double u = rng::uniform01(engine);
  if (range[0] < 1 && range[1] > 1) {
    return below ? range[0] + (1 - range[0]) * u : 1 + (range[1] - 1) * u;
  }
  return range[0] + (range[1] - range[0]) * u;
}

}  // namespace

AugmentOptions AugmentOptions::none() {
  AugmentOptions o;
  o.flip_probability = {0, 0, 0};
  o.scale_probability = 0;
  o.rotation_probability = 0;
  o.intensity_scale_probability = 0;
  o.intensity_shift_probability = 0;
  o.gamma_probability = 0;
  return o;
}

Augmenter::Augmenter(AugmentOptions options, uint64_t seed)
    : options_(options), seed_(seed), engine_(seed) {
  auto check_range = [](const std::array<double, 2>& r, const char* name) {
    TORCH_CHECK(r[0] <= r[1], "AugmentOptions: ", name, " range [", r[0], ", ", r[1], "] is empty");
  };
  check_range(options_.scale_range, "scale");
  check_range(options_.intensity_scale_range, "intensity_scale");
  check_range(options_.intensity_shift_range, "intensity_shift");
  check_range(options_.gamma_range, "gamma");
  TORCH_CHECK(options_.scale_range[0] > 0, "AugmentOptions: scale factors must be positive, got ",
              options_.scale_range[0]);
  TORCH_CHECK(options_.gamma_range[0] > 0, "AugmentOptions: gamma must be positive, got ",
              options_.gamma_range[0]);
}

AugmentDraw Augmenter::draw(std::mt19937_64& engine, int64_t channels) const {
  const auto& o = options_;
  AugmentDraw d;
  for (int a = 0; a < 3; ++a) d.flip[a] = rng::uniform01(engine) < o.flip_probability[a];
  d.scale = rng::uniform01(engine) < o.scale_probability;
  const double factor = rng::uniform(engine, o.scale_range[0], o.scale_range[1]);
  d.scale_factor = d.scale ? factor : 1.0;
  d.rotate = rng::uniform01(engine) < o.rotation_probability;
  for (auto& angle : d.angles_degrees) {
    const double value = rng::uniform(engine, -o.rotation_max_degrees, o.rotation_max_degrees);
    angle = d.rotate ? value : 0.0;
  }
  d.intensity_scale = rng::uniform01(engine) < o.intensity_scale_probability;
  d.intensity_shift = rng::uniform01(engine) < o.intensity_shift_probability;
  d.gamma = rng::uniform01(engine) < o.gamma_probability;
  for (int64_t c = 0; c < channels; ++c) {
    d.channel_scale.push_back(
        rng::uniform(engine, o.intensity_scale_range[0], o.intensity_scale_range[1]));
    d.channel_shift.push_back(
        rng::uniform(engine, o.intensity_shift_range[0], o.intensity_shift_range[1]));
    d.channel_gamma.push_back(draw_gamma(engine, o.gamma_range));
  }
  return d;
}

void Augmenter::apply_draw(const AugmentDraw& d, torch::Tensor* image,
                           torch::Tensor* target) const {
  TORCH_CHECK(image->dim() == 4 && image->scalar_type() == torch::kFloat,
              "Augmenter: a sample image must be float32 {C,P0,P1,P2}, got ", image->sizes(), " ",
              image->scalar_type());
  const bool has_target = target != nullptr && target->defined();
  if (has_target) {
    TORCH_CHECK(target->dim() == 4 && target->sizes().slice(1) == image->sizes().slice(1),
                "Augmenter: target sizes ", target->sizes(), " do not match image sizes ",
                image->sizes());
  }
  const int64_t channels = image->size(0);
  TORCH_CHECK(static_cast<int64_t>(d.channel_scale.size()) == channels,
              "Augmenter: the draw is for ", d.channel_scale.size(), " channels, the image has ",
              channels);

  if (d.scale || d.rotate) {
    // Output voxel offset from the centre -> input offset, in voxels (tensor axis order).
    Matrix3 m =
        multiply(rotation(0, d.angles_degrees[0]),
                 multiply(rotation(1, d.angles_degrees[1]), rotation(2, d.angles_degrees[2])));
    for (auto& row : m) {
      for (double& v : row) v /= d.scale_factor;
    }
    // affine_grid works in [-1, 1] per axis and in reversed order (its x is the last dim):
    // theta = J D^-1 M D J with D = diag(P/2), so rotations stay rigid on non-cubic patches.
    const std::array<int64_t, 3> p{image->size(1), image->size(2), image->size(3)};
    torch::Tensor theta = torch::zeros({1, 3, 4}, torch::kDouble);
    auto acc = theta.accessor<double, 3>();
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        acc[0][2 - i][2 - j] = m[i][j] * static_cast<double>(p[j]) / static_cast<double>(p[i]);
      }
    }
    const torch::Tensor grid =
        F::affine_grid(theta.to(image->options()), {1, channels, p[0], p[1], p[2]},
                       /*align_corners=*/false);
    *image = F::grid_sample(image->unsqueeze(0), grid,
                            F::GridSampleFuncOptions()
                                .mode(torch::kBilinear)
                                .padding_mode(torch::kZeros)
                                .align_corners(false))
                 .squeeze(0);
    if (has_target) {
      // The same grid with nearest sampling: targets stay binary and aligned with the image.
      *target = F::grid_sample(target->to(torch::kFloat).unsqueeze(0), grid,
                               F::GridSampleFuncOptions()
                                   .mode(torch::kNearest)
                                   .padding_mode(torch::kZeros)
                                   .align_corners(false))
                    .squeeze(0)
                    .to(target->scalar_type());
    }
  }

  std::vector<int64_t> flip_dims;
  for (int a = 0; a < 3; ++a) {
    if (d.flip[a]) flip_dims.push_back(a + 1);
  }
  if (!flip_dims.empty()) {
    *image = image->flip(flip_dims);
    if (has_target) *target = target->flip(flip_dims);
  }

  if (!(d.intensity_scale || d.intensity_shift || d.gamma)) return;
  torch::Tensor out = image->clone(at::MemoryFormat::Contiguous);
  for (int64_t c = 0; c < channels; ++c) {
    torch::Tensor x = out[c];
    const torch::Tensor mask = x != 0;
    if (!mask.any().item<bool>()) continue;
    if (d.intensity_scale) x.mul_(d.channel_scale[c]);
    if (d.intensity_shift) {
      const double sd = x.masked_select(mask).to(torch::kDouble).std(false).item<double>();
      x.add_(mask.to(x.scalar_type()) * (d.channel_shift[c] * sd));
    }
    if (d.gamma) {
      const torch::Tensor values = x.masked_select(mask);
      const double lo = values.min().item<double>(), hi = values.max().item<double>();
      const double range = hi - lo;
      if (range > 1e-7) {
        const torch::Tensor unit = ((x - lo) / range).clamp(0, 1);
        x.copy_(
            torch::where(mask, unit.pow(d.channel_gamma[c]) * range + lo, torch::zeros_like(x)));
      }
    }
  }
  *image = out;
}

Batch Augmenter::apply_with(Batch batch, std::mt19937_64& engine) const {
  TORCH_CHECK(batch.image.defined() && batch.image.dim() == 5,
              "Augmenter: the batch image must be {B,C,P0,P1,P2}, got ",
              batch.image.defined() ? batch.image.sizes() : torch::IntArrayRef{});
  const bool has_target = batch.target.defined();
  if (has_target) {
    TORCH_CHECK(batch.target.dim() == 5 && batch.target.size(0) == batch.image.size(0),
                "Augmenter: the batch target must be {B,3,P0,P1,P2} like image ",
                batch.image.sizes(), ", got ", batch.target.sizes());
  }
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> images, targets;
  for (int64_t b = 0; b < batch.image.size(0); ++b) {
    const AugmentDraw d = draw(engine, batch.image.size(1));
    torch::Tensor image = batch.image[b];
    torch::Tensor target = has_target ? batch.target[b] : torch::Tensor();
    apply_draw(d, &image, has_target ? &target : nullptr);
    images.push_back(image);
    if (has_target) targets.push_back(target);
  }
  Batch out;
  out.image = torch::stack(images);
  if (has_target) out.target = torch::stack(targets);
  return out;
}

Batch Augmenter::apply(Batch batch) {
  return apply_with(std::move(batch), engine_);
}

Batch Augmenter::apply_at(Batch batch, uint64_t index) const {
  // A stream apart from the sampler's batch_at(index) even when both use the same seed.
  std::mt19937_64 engine(rng::derive_seed(seed_, index, /*stream=*/1));
  return apply_with(std::move(batch), engine);
}

std::string Augmenter::state() const {
  return rng::engine_state(engine_);
}

void Augmenter::set_state(const std::string& state) {
  rng::set_engine_state(engine_, state, "Augmenter::set_state");
}

}  // namespace revunet::data

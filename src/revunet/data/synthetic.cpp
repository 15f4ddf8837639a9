#include "revunet/data/synthetic.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/data/nifti.h"

namespace revunet::data {
namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

constexpr double kPi = 3.14159265358979323846;

// splitmix64: turns (seed, case index) into well-separated engine seeds.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// All randomness of a case comes from one of these. std::mt19937_64's output is fixed by the
// standard; the distributions are written out here because std::'s are implementation-defined.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() { return box_muller().first; }
  torch::Tensor normal_tensor(at::IntArrayRef sizes) {
    torch::Tensor t = torch::empty(sizes, torch::kFloat32);
    float* p = t.data_ptr<float>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; i += 2) {
      const auto [a, b] = box_muller();
      p[i] = static_cast<float>(a);
      if (i + 1 < n) p[i + 1] = static_cast<float>(b);
    }
    return t;
  }

 private:
  std::pair<double, double> box_muller() {
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    return {r * std::cos(2 * kPi * u2), r * std::sin(2 * kPi * u2)};
  }
  std::mt19937_64 engine_;
};

using Shape = std::array<int64_t, 3>;

// Smooth random field {X,Y,Z}: Gaussian values on a (cells+1)^3 lattice, trilinearly interpolated.
torch::Tensor smooth_noise(Rng& rng, const Shape& shape, int64_t cells) {
  torch::Tensor coarse = rng.normal_tensor({1, 1, cells + 1, cells + 1, cells + 1});
  return F::interpolate(coarse, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{shape[0], shape[1], shape[2]})
                                    .mode(torch::kTrilinear)
                                    .align_corners(true))
      .view({shape[0], shape[1], shape[2]});
}

// Box blur of a {C,X,Y,Z} stack: partial-volume edges.
torch::Tensor blur(const torch::Tensor& x) {
  return F::avg_pool3d(x.unsqueeze(0),
                       F::AvgPool3dFuncOptions(3).stride(1).padding(1).count_include_pad(false))
      .squeeze(0);
}

// Coordinates scaled so that the brain is about the unit ball: u = (index - centre) / semi-axis.
struct UnitGrid {
  torch::Tensor u[3];  // broadcastable: {X,1,1}, {1,Y,1}, {1,1,Z}
  std::array<double, 3> centre;
  std::array<double, 3> semi;
};

UnitGrid unit_grid(const Shape& shape, const std::array<double, 3>& centre,
                   const std::array<double, 3>& semi) {
  UnitGrid g{{}, centre, semi};
  for (int d = 0; d < 3; ++d) {
    std::vector<int64_t> view = {1, 1, 1};
    view[d] = shape[d];
    g.u[d] = ((torch::arange(shape[d], torch::kFloat32) - centre[d]) / semi[d]).view(view);
  }
  return g;
}

// Internal tumour classes; mapped to a convention's label values at the end.
enum SynthClass : int64_t { kNone = 0, kNcr = 1, kEd = 2, kEt = 3 };

// Distance to `c` in units of a radius R that wobbles with a smooth noise field (a deformed blob).
torch::Tensor blob_distance(Rng& rng, const UnitGrid& g, const Shape& shape,
                            const std::array<double, 3>& c, double radius, double wobble) {
  torch::Tensor d2 = (g.u[0] - c[0]).square() + (g.u[1] - c[1]).square() + (g.u[2] - c[2]).square();
  return d2.sqrt() / (radius * (1.0 + wobble * smooth_noise(rng, shape, 4)));
}

// Oedema around an enhancing shell around a necrotic core, each a randomly deformed blob, inside
// the brain; the whole tumour covers about 1.5-5 % of a unit-ball brain.
torch::Tensor paint_tumour(Rng& rng, const UnitGrid& g, const Shape& shape,
                           const torch::Tensor& brain) {
  std::array<double, 3> c{0, 0, 0};
  for (int attempt = 0; attempt < 200; ++attempt) {
    for (double& v : c) v = rng.uniform(-0.5, 0.5);
    if (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] > 0.25) continue;
    int64_t idx[3];
    for (int d = 0; d < 3; ++d) {
      idx[d] = std::clamp<int64_t>(std::llround(g.centre[d] + c[d] * g.semi[d]), 0, shape[d] - 1);
    }
    if (brain[idx[0]][idx[1]][idx[2]].item<bool>()) break;
  }
  const double fraction = rng.uniform(0.015, 0.05);
  const double r_wt = std::cbrt(fraction);
  const double r_tc = r_wt * rng.uniform(0.45, 0.65);
  const double r_ncr = r_tc * rng.uniform(0.3, 0.55);
  std::array<double, 3> c_tc = c;
  const double shift = rng.uniform(0.0, 0.2) * r_wt;
  for (double& v : c_tc) v += shift * rng.normal() / std::sqrt(3.0);

  const torch::Tensor wt = blob_distance(rng, g, shape, c, r_wt, 0.3) < 1;
  const torch::Tensor tc = blob_distance(rng, g, shape, c_tc, r_tc, 0.2) < 1;
  const torch::Tensor ncr = blob_distance(rng, g, shape, c_tc, r_ncr, 0.25) < 1;
  torch::Tensor classes = torch::zeros({shape[0], shape[1], shape[2]}, torch::kInt64);
  classes.masked_fill_(wt.logical_or(tc).logical_and(brain), kEd);
  classes.masked_fill_(tc.logical_and(brain), kEt);
  classes.masked_fill_(ncr.logical_and(tc).logical_and(brain), kNcr);
  return classes;
}

// What a renderer needs on the output grid.
struct Anatomy3d {
  torch::Tensor tissues;  // float {3,X,Y,Z}: CSF, GM, WM memberships
  torch::Tensor brain;    // bool {X,Y,Z}
  torch::Tensor classes;  // int64 {X,Y,Z}: SynthClass
};

Anatomy3d procedural_anatomy(Rng& rng, const Shape& shape) {
  const std::array<double, 3> centre = {(shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0,
                                        (shape[2] - 1) / 2.0};
  const std::array<double, 3> semi = {0.31 * shape[0], 0.38 * shape[1], 0.42 * shape[2]};
  const UnitGrid g = unit_grid(shape, centre, semi);
  const torch::Tensor r = (g.u[0].square() + g.u[1].square() + g.u[2].square()).sqrt();
  const torch::Tensor rb = r / (1.0 + 0.07 * smooth_noise(rng, shape, 3));
  const torch::Tensor brain = rb < 1;

  const torch::Tensor gm_edge = 0.74 + 0.05 * smooth_noise(rng, shape, 6);
  const torch::Tensor gm = rb > gm_edge;
  const torch::Tensor sulci =
      gm.logical_and(smooth_noise(rng, shape, 10) > 0.6).logical_and(rb > gm_edge + 0.08);
  torch::Tensor ventricles = torch::zeros_like(brain);
  for (double side : {-1.0, 1.0}) {
    ventricles = ventricles.logical_or(((g.u[0] - side * 0.13) / 0.09).square() +
                                           ((g.u[1] - 0.05) / 0.32).square() +
                                           ((g.u[2] - 0.12) / 0.14).square() <
                                       1);
  }
  const torch::Tensor csf = (rb > 0.95).logical_or(sulci).logical_or(ventricles);
  torch::Tensor cls = torch::full({shape[0], shape[1], shape[2]}, 2, torch::kInt64);  // WM
  cls.masked_fill_(gm, 1);
  cls.masked_fill_(csf, 0);
  torch::Tensor tissues = blur(F::one_hot(cls, 3).permute({3, 0, 1, 2}).to(torch::kFloat32));

  Anatomy3d a;
  a.tissues = tissues * brain.to(torch::kFloat32);
  a.brain = brain;
  a.classes = paint_tumour(rng, g, shape, brain);
  return a;
}

// Mean intensity per class, rows t1, t1ce, t2, flair; columns CSF, GM, WM, NCR, ED, ET.
// Necrosis dark on T1, enhancing rim bright on T1ce, oedema bright on FLAIR and T2, CSF dark on
// FLAIR, as in real scans.
constexpr double kContrast[kNumModalities][6] = {
    {0.30, 0.55, 0.78, 0.22, 0.48, 0.60},
    {0.32, 0.57, 0.78, 0.22, 0.50, 1.40},
    {1.20, 0.72, 0.50, 1.15, 1.00, 0.85},
    {0.18, 0.62, 0.48, 0.60, 1.15, 0.95},
};
constexpr double kScannerScale[kNumModalities] = {900, 1000, 1300, 800};  // int16 file units

torch::Tensor render(Rng& rng, const Anatomy3d& a) {
  const Shape shape = {a.brain.size(0), a.brain.size(1), a.brain.size(2)};
  torch::Tensor tumour =
      torch::stack({a.classes == kNcr, a.classes == kEd, a.classes == kEt}).to(torch::kFloat32);
  // A little partial volume at the edges, but thin rims must keep their contrast.
  tumour = (0.7 * tumour + 0.3 * blur(tumour)) * a.brain.to(torch::kFloat32);
  const torch::Tensor tissues = a.tissues * (1 - tumour.sum(0, /*keepdim=*/true)).clamp_min(0);
  const torch::Tensor texture = 1 + 0.05 * smooth_noise(rng, shape, 12);  // anatomy, all contrasts

  std::vector<torch::Tensor> images;
  for (int m = 0; m < kNumModalities; ++m) {
    torch::Tensor img = torch::zeros({shape[0], shape[1], shape[2]}, torch::kFloat32);
    for (int k = 0; k < 6; ++k) {
      const double mean = kContrast[m][k] * (1 + 0.04 * rng.normal());  // per-case contrast
      img += (k < 3 ? tissues[k] : tumour[k - 3]) * mean;
    }
    img = img * texture * (0.10 * smooth_noise(rng, shape, 2)).exp();  // bias field
    img += 0.02 * rng.normal_tensor({shape[0], shape[1], shape[2]});
    img = (img.clamp_min(0) * kScannerScale[m]).round().clamp_min(1);
    images.push_back(img * a.brain.to(torch::kFloat32));  // skull-stripped: 0 outside
  }
  return torch::stack(images);
}

// Rotation (about ±8° per axis) times anisotropic scale (±6 %).
std::array<std::array<double, 3>, 3> random_linear(Rng& rng) {
  const double deg = kPi / 180.0;
  const double ax = rng.uniform(-8, 8) * deg, ay = rng.uniform(-8, 8) * deg,
               az = rng.uniform(-8, 8) * deg;
  const double rx[3][3] = {
      {1, 0, 0}, {0, std::cos(ax), -std::sin(ax)}, {0, std::sin(ax), std::cos(ax)}};
  const double ry[3][3] = {
      {std::cos(ay), 0, std::sin(ay)}, {0, 1, 0}, {-std::sin(ay), 0, std::cos(ay)}};
  const double rz[3][3] = {
      {std::cos(az), -std::sin(az), 0}, {std::sin(az), std::cos(az), 0}, {0, 0, 1}};
  double rxy[3][3] = {};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) rxy[i][j] += rx[i][k] * ry[k][j];
  std::array<std::array<double, 3>, 3> m{};
  const double scale[3] = {rng.uniform(0.94, 1.06), rng.uniform(0.94, 1.06),
                           rng.uniform(0.94, 1.06)};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double v = 0;
      for (int k = 0; k < 3; ++k) v += rxy[i][k] * rz[k][j];
      m[i][j] = v * scale[j];
    }
  return m;
}

// The template brain's bounding box: centre and half-size in voxels.
std::pair<std::array<double, 3>, std::array<double, 3>> brain_box(const torch::Tensor& brain) {
  std::array<double, 3> centre{}, semi{};
  for (int d = 0; d < 3; ++d) {
    std::vector<int64_t> others;
    for (int e = 0; e < 3; ++e)
      if (e != d) others.push_back(e);
    const torch::Tensor any = brain.amax(others) > 0.5;
    const torch::Tensor idx = torch::nonzero(any).flatten();
    const double lo = idx.min().item<double>(), hi = idx.max().item<double>();
    centre[d] = (lo + hi) / 2;
    semi[d] = std::max(1.0, (hi - lo) / 2);
  }
  return {centre, semi};
}

// Colin27 with a tumour, deformed by a random affine plus a smooth elastic field, resampled onto
// the output grid: trilinear for memberships, nearest for the tumour labels (same mapping for
// both).
Anatomy3d colin27_anatomy(Rng& rng, const BrainTemplate& t, const Shape& shape, double spacing) {
  const Shape tshape = {t.brain.size(0), t.brain.size(1), t.brain.size(2)};
  const auto [centre, semi] = brain_box(t.brain);
  const torch::Tensor tbrain = t.brain > 0.5;
  const torch::Tensor tclasses = paint_tumour(rng, unit_grid(tshape, centre, semi), tshape, tbrain);

  const auto m = random_linear(rng);
  double shift[3];
  for (double& s : shift) s = rng.uniform(-4, 4);  // mm
  torch::Tensor p[3], q[3];
  for (int d = 0; d < 3; ++d) {
    std::vector<int64_t> view = {1, 1, 1};
    view[d] = shape[d];
    p[d] = ((torch::arange(shape[d], torch::kFloat32) - (shape[d] - 1) / 2.0) * spacing).view(view);
  }
  torch::Tensor grid[3];
  for (int d = 0; d < 3; ++d) {
    q[d] = p[0] * m[d][0] + p[1] * m[d][1] + p[2] * m[d][2] + shift[d] +
           3.0 * smooth_noise(rng, shape, 4);  // elastic part, mm
    const torch::Tensor voxel = q[d] / t.spacing[d] + centre[d];
    grid[d] = 2.0 * voxel / static_cast<double>(tshape[d] - 1) - 1.0;
  }
  // grid_sample's last dim is (W, H, D) = (z, y, x) of a {1, C, X, Y, Z} input.
  const torch::Tensor g = torch::stack({grid[2], grid[1], grid[0]}, -1).unsqueeze(0);
  const torch::Tensor fields = torch::cat({t.tissues, t.brain.unsqueeze(0)}).unsqueeze(0);
  const torch::Tensor smooth = F::grid_sample(fields, g,
                                              F::GridSampleFuncOptions()
                                                  .mode(torch::kBilinear)
                                                  .padding_mode(torch::kZeros)
                                                  .align_corners(true))
                                   .squeeze(0);
  const torch::Tensor labels =
      F::grid_sample(tclasses.to(torch::kFloat32).unsqueeze(0).unsqueeze(0), g,
                     F::GridSampleFuncOptions()
                         .mode(torch::kNearest)
                         .padding_mode(torch::kZeros)
                         .align_corners(true))
          .view({shape[0], shape[1], shape[2]});

  Anatomy3d a;
  a.brain = smooth[3] > 0.5;
  const torch::Tensor tissues = smooth.slice(0, 0, 3);
  a.tissues = tissues / tissues.sum(0, true).clamp_min(1e-6) * a.brain.to(torch::kFloat32);
  a.classes = labels.round().to(torch::kInt64) * a.brain.to(torch::kInt64);
  return a;
}

}  // namespace

Anatomy parse_anatomy(const std::string& text, const std::string& what) {
  if (text == "procedural") return Anatomy::kProcedural;
  if (text == "colin27") return Anatomy::kColin27;
  fail(what, "unknown anatomy '" + text + "'; expected procedural or colin27");
}

std::array<int64_t, 3> default_canvas(double spacing) {
  TORCH_CHECK(spacing > 0, "spacing must be positive, got ", spacing);
  return {std::llround(240 / spacing), std::llround(240 / spacing), std::llround(155 / spacing)};
}

std::string synthetic_case_id(int64_t index) {
  std::ostringstream id;
  id << "Synth_" << std::setw(3) << std::setfill('0') << index;
  return id.str();
}

BrainTemplate load_colin27(const std::string& dir) {
  const std::string path = (fs::path(dir) / "ch2bet.nii.gz").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    fail(path, "Colin27 template missing; install it with: apt-get install mricron-data");
  }
  const NiftiImage t1 = read_nifti(path);
  BrainTemplate t;
  t.spacing = t1.spacing;
  const torch::Tensor brain = t1.data > 0;
  t.brain = brain.to(torch::kFloat32);
  const torch::Tensor values = t1.data.masked_select(brain);
  TORCH_CHECK(values.numel() > 1000, path, " has almost no brain voxels");

  // 1-D k-means (CSF < GM < WM) from the 10/50/90 % quantiles, then Gaussian soft memberships.
  const torch::Tensor sorted = std::get<0>(values.sort());
  const int64_t n = sorted.numel();
  double mean[3] = {sorted[n / 10].item<double>(), sorted[n / 2].item<double>(),
                    sorted[n * 9 / 10].item<double>()};
  double sd[3] = {1, 1, 1};
  for (int iter = 0; iter < 20; ++iter) {
    const torch::Tensor centres = torch::tensor({mean[0], mean[1], mean[2]}, torch::kFloat32);
    const torch::Tensor nearest = (values.unsqueeze(1) - centres).abs().argmin(1);
    for (int k = 0; k < 3; ++k) {
      const torch::Tensor v = values.masked_select(nearest == k);
      if (v.numel() < 2) continue;
      mean[k] = v.mean().item<double>();
      sd[k] = std::max(v.std().item<double>(), 1e-3 * (mean[2] - mean[0] + 1));
    }
  }
  std::vector<torch::Tensor> likelihood;
  for (int k = 0; k < 3; ++k) {
    likelihood.push_back((-(t1.data - mean[k]).square() / (2 * sd[k] * sd[k])).exp() / sd[k]);
  }
  torch::Tensor p = torch::stack(likelihood);
  p = p / p.sum(0, true).clamp_min(1e-12);
  // Far below the CSF mean the Gaussians underflow: call it CSF.
  p[0].masked_fill_(t1.data < mean[0], 1.0);
  p = p / p.sum(0, true);
  t.tissues = p * t.brain;
  return t;
}

SyntheticGenerator::SyntheticGenerator(SynthOptions options) : options_(std::move(options)) {
  TORCH_CHECK(options_.spacing > 0, "spacing must be positive, got ", options_.spacing);
  shape_ = options_.shape[0] > 0 ? options_.shape : default_canvas(options_.spacing);
  for (int64_t s : shape_) TORCH_CHECK(s >= 8, "synthetic shape must be at least 8 per axis");
  if (options_.anatomy == Anatomy::kColin27) {
    colin27_ = std::make_shared<const BrainTemplate>(load_colin27(options_.colin27_dir));
  }
}

SynthCase SyntheticGenerator::make_case(int64_t index) const {
  Rng rng(mix(mix(options_.seed) ^ static_cast<uint64_t>(index)));
  const Anatomy3d a = colin27_ ? colin27_anatomy(rng, *colin27_, shape_, options_.spacing)
                               : procedural_anatomy(rng, shape_);
  const auto& spec = convention_spec(options_.convention);
  const torch::Tensor lut = torch::tensor(std::vector<int64_t>{0, spec.ncr, spec.ed, spec.et});
  SynthCase c;
  c.id = synthetic_case_id(index);
  c.image = render(rng, a);
  c.label = torch::take(lut, a.classes);
  c.brain = a.brain;
  c.spacing = {options_.spacing, options_.spacing, options_.spacing};
  return c;
}

std::vector<std::string> write_synthetic_dataset(const std::string& out_dir, int64_t count,
                                                 const SynthOptions& options) {
  TORCH_CHECK(count >= 0, "case count must be non-negative, got ", count);
  const SyntheticGenerator generator(options);
  const auto& spec = convention_spec(options.convention);
  const NiftiGeometry geometry =
      make_geometry(generator.shape(), {options.spacing, options.spacing, options.spacing});
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) fail(out_dir, "cannot create the output folder: " + ec.message());

  std::vector<std::string> dirs;
  nlohmann::json ids = nlohmann::json::array();
  for (int64_t i = 0; i < count; ++i) {
    const SynthCase c = generator.make_case(i);
    const std::string dir = (fs::path(out_dir) / c.id).string();
    fs::create_directories(dir, ec);
    if (ec) fail(dir, "cannot create the case folder: " + ec.message());
    for (int m = 0; m < kNumModalities; ++m) {
      write_nifti(case_file_name(dir, c.id, options.convention, spec.modalities[m]), c.image[m],
                  geometry, NiftiDatatype::kInt16);
    }
    write_nifti(case_file_name(dir, c.id, options.convention, spec.seg), c.label, geometry,
                NiftiDatatype::kUInt8);
    dirs.push_back(dir);
    ids.push_back(c.id);
  }
  const auto shape = generator.shape();
  nlohmann::json info = {
      {"generator", "revunet synth"},
      {"anatomy", options.anatomy == Anatomy::kColin27 ? "colin27" : "procedural"},
      {"convention", spec.key},
      {"seed", options.seed},
      {"shape", {shape[0], shape[1], shape[2]}},
      {"spacing_mm", options.spacing},
      {"cases", ids},
      {"run", core::run_info(torch::kCPU)},
  };
  core::write_json_atomically((fs::path(out_dir) / "synth.json").string(), info);
  return dirs;
}

}  // namespace revunet::data

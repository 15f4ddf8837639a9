#include "revunet/eval/metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "revunet/eval/distance_transform.h"

namespace revunet::eval {
namespace {

torch::Tensor as_cpu_bool(const torch::Tensor& mask, const char* what) {
  TORCH_CHECK(mask.dim() == 3, "score_region: ", what, " must be {X, Y, Z}, got ", mask.sizes());
  TORCH_CHECK(mask.scalar_type() == torch::kBool || mask.scalar_type() == torch::kUInt8,
              "score_region: ", what, " must be bool or uint8, got ", mask.scalar_type());
  return mask.to(torch::kCPU).to(torch::kBool).contiguous();
}

// Crops both masks to the bounding box of their union. Distances between their voxels do not
// change and every voxel outside the box is background in both, so surfaces stay the same too.
std::pair<torch::Tensor, torch::Tensor> crop_to_union(const torch::Tensor& a,
                                                      const torch::Tensor& b) {
  const torch::Tensor any = a.logical_or(b);
  torch::Tensor pa = a, pb = b;
  for (int64_t d = 0; d < 3; ++d) {
    std::vector<int64_t> others;
    for (int64_t o = 0; o < 3; ++o) {
      if (o != d) others.push_back(o);
    }
    const torch::Tensor hit = any.any(others[1]).any(others[0]).nonzero();
    const int64_t lo = hit.min().item<int64_t>();
    const int64_t hi = hit.max().item<int64_t>();
    pa = pa.narrow(d, lo, hi - lo + 1);
    pb = pb.narrow(d, lo, hi - lo + 1);
  }
  return {pa.contiguous(), pb.contiguous()};
}

// Distances (mm) from every surface voxel of `from` to the nearest surface voxel of `to`.
std::vector<double> surface_distances(const torch::Tensor& from_surface,
                                      const torch::Tensor& to_surface,
                                      const std::array<double, 3>& spacing) {
  const torch::Tensor dt = euclidean_distance_transform(to_surface, spacing);
  const torch::Tensor picked = dt.masked_select(from_surface).contiguous();
  const double* p = picked.data_ptr<double>();
  return std::vector<double>(p, p + picked.numel());
}

}  // namespace

torch::Tensor mask_surface(const torch::Tensor& mask) {
  TORCH_CHECK(mask.dim() == 3, "mask_surface: expected {X, Y, Z}, got ", mask.sizes());
  const torch::Tensor m = mask.to(torch::kBool);
  // Zero padding makes voxels outside the image background, as scipy's erosion border_value=0.
  const torch::Tensor p =
      torch::constant_pad_nd(m.to(torch::kUInt8), {1, 1, 1, 1, 1, 1}, 0).to(torch::kBool);
  const int64_t X = m.size(0), Y = m.size(1), Z = m.size(2);
  auto shifted = [&](int64_t dx, int64_t dy, int64_t dz) {
    return p.narrow(0, 1 + dx, X).narrow(1, 1 + dy, Y).narrow(2, 1 + dz, Z);
  };
  torch::Tensor eroded = m.clone();
  for (const auto& o : std::vector<std::array<int64_t, 3>>{
           {-1, 0, 0}, {1, 0, 0}, {0, -1, 0}, {0, 1, 0}, {0, 0, -1}, {0, 0, 1}}) {
    eroded.logical_and_(shifted(o[0], o[1], o[2]));
  }
  return m.logical_and(eroded.logical_not());
}

double percentile(std::vector<double> values, double q) {
  TORCH_CHECK(!values.empty(), "percentile: no values");
  TORCH_CHECK(q >= 0 && q <= 100, "percentile: q must be in [0, 100], got ", q);
  std::sort(values.begin(), values.end());
  const double h = (static_cast<double>(values.size()) - 1) * q / 100.0;
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

RegionScores score_region(const torch::Tensor& pred, const torch::Tensor& ref,
                          std::array<double, 3> spacing) {
  const torch::Tensor p = as_cpu_bool(pred, "pred");
  const torch::Tensor r = as_cpu_bool(ref, "ref");
  TORCH_CHECK(p.sizes() == r.sizes(), "score_region: pred ", p.sizes(), " and ref ", r.sizes(),
              " differ in shape");
  const auto n_pred = p.sum().item<int64_t>();
  const auto n_ref = r.sum().item<int64_t>();
  const auto tp = p.logical_and(r).sum().item<int64_t>();
  const int64_t negatives = r.numel() - n_ref;
  const int64_t fp = n_pred - tp;

  RegionScores s;
  s.dice = n_pred + n_ref == 0 ? 1.0 : 2.0 * static_cast<double>(tp) / (n_pred + n_ref);
  s.sensitivity =
      n_ref == 0 ? (n_pred == 0 ? 1.0 : 0.0) : static_cast<double>(tp) / static_cast<double>(n_ref);
  s.specificity =
      negatives == 0 ? 1.0 : static_cast<double>(negatives - fp) / static_cast<double>(negatives);
  if (n_pred == 0 && n_ref == 0) {
    s.hd95 = 0.0;
  } else if (n_pred == 0 || n_ref == 0) {
    s.hd95 = kEmptyMaskHd95;
  } else {
    const auto [pc, rc] = crop_to_union(p, r);
    const torch::Tensor ps = mask_surface(pc);
    const torch::Tensor rs = mask_surface(rc);
    std::vector<double> d = surface_distances(ps, rs, spacing);
    const std::vector<double> back = surface_distances(rs, ps, spacing);
    d.insert(d.end(), back.begin(), back.end());
    s.hd95 = percentile(std::move(d), 95.0);
  }
  return s;
}

}  // namespace revunet::eval

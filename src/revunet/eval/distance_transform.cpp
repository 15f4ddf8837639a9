#include "revunet/eval/distance_transform.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <vector>

namespace revunet::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Scratch space for one 1-D transform, reused across the lines of one parallel chunk.
struct LineScratch {
  explicit LineScratch(int64_t n) : f(n), d(n), v(n), z(n + 1) {}
  std::vector<double> f;   // input squared distances along the line
  std::vector<double> d;   // output squared distances
  std::vector<int64_t> v;  // positions of the parabolas in the lower envelope
  std::vector<double> z;   // boundaries between consecutive envelope parabolas
};

// d(p) = min_q w2 (p - q)² + f(q) over the finite f(q) (Felzenszwalb & Huttenlocher), where
// w2 = spacing². Infinite samples are left out of the envelope, so an all-infinite line stays
// infinite instead of producing inf - inf.
void transform_line(int64_t n, double w2, LineScratch& s) {
  int64_t k = -1;
  for (int64_t q = 0; q < n; ++q) {
    const double fq = s.f[q];
    if (fq == kInf) continue;
    if (k < 0) {
      k = 0;
      s.v[0] = q;
      s.z[0] = -kInf;
      s.z[1] = kInf;
      continue;
    }
    const double hq = fq + w2 * static_cast<double>(q * q);
    while (true) {
      const int64_t p = s.v[k];
      const double sep = (hq - (s.f[p] + w2 * static_cast<double>(p * p))) /
                         (2.0 * w2 * static_cast<double>(q - p));
      if (sep <= s.z[k]) {
        --k;  // never below 0: z[0] is -inf
        continue;
      }
      ++k;
      s.v[k] = q;
      s.z[k] = sep;
      s.z[k + 1] = kInf;
      break;
    }
  }
  if (k < 0) {
    std::fill(s.d.begin(), s.d.begin() + n, kInf);
    return;
  }
  k = 0;
  for (int64_t q = 0; q < n; ++q) {
    while (s.z[k + 1] < static_cast<double>(q)) ++k;
    const double dq = static_cast<double>(q - s.v[k]);
    s.d[q] = w2 * dq * dq + s.f[s.v[k]];
  }
}

// Runs the 1-D transform along `axis` of the contiguous {X, Y, Z} buffer, in place.
void transform_axis(double* data, const std::array<int64_t, 3>& shape, int axis, double w2) {
  const std::array<int64_t, 3> strides = {shape[1] * shape[2], shape[2], 1};
  const int64_t n = shape[axis];
  const int a = axis == 0 ? 1 : 0;  // the two other axes index the lines
  const int b = axis == 2 ? 1 : 2;
  const int64_t lines = shape[a] * shape[b];
  const int64_t stride = strides[axis];
  at::parallel_for(0, lines, 64, [&](int64_t begin, int64_t end) {
    LineScratch s(n);
    for (int64_t line = begin; line < end; ++line) {
      double* base = data + (line / shape[b]) * strides[a] + (line % shape[b]) * strides[b];
      for (int64_t i = 0; i < n; ++i) s.f[i] = base[i * stride];
      transform_line(n, w2, s);
      for (int64_t i = 0; i < n; ++i) base[i * stride] = s.d[i];
    }
  });
}

}  // namespace

torch::Tensor euclidean_distance_transform(const torch::Tensor& mask,
                                           const std::array<double, 3>& spacing) {
  TORCH_CHECK(mask.dim() == 3, "euclidean_distance_transform: expected a {X, Y, Z} mask, got ",
              mask.sizes());
  TORCH_CHECK(mask.scalar_type() == torch::kBool || mask.scalar_type() == torch::kUInt8,
              "euclidean_distance_transform: expected a bool or uint8 mask, got ",
              mask.scalar_type());
  for (int d = 0; d < 3; ++d) {
    TORCH_CHECK(spacing[d] > 0 && std::isfinite(spacing[d]),
                "euclidean_distance_transform: spacing must be positive and finite, got ",
                spacing[d], " along dim ", d);
  }
  // Squared distance 0 on features, +inf elsewhere; the three passes make it the exact EDT².
  torch::Tensor out = torch::full(mask.sizes(), kInf, torch::kFloat64)
                          .masked_fill_(mask.to(torch::kCPU).to(torch::kBool), 0.0);
  if (out.numel() == 0) return out;
  const std::array<int64_t, 3> shape = {out.size(0), out.size(1), out.size(2)};
  double* data = out.data_ptr<double>();
  for (int axis = 0; axis < 3; ++axis) {
    transform_axis(data, shape, axis, spacing[axis] * spacing[axis]);
  }
  return out.sqrt_();
}

}  // namespace revunet::eval

#include "revunet/infer/sliding_window.h"

#include <torch/torch.h>

#include <cmath>

namespace revunet::infer {
namespace {

void check_options(const SlidingWindowOptions& o) {
  for (int d = 0; d < 3; ++d) {
    TORCH_CHECK(o.window[d] > 0, "sliding window: window sizes must be positive, got ", o.window[d],
                " along axis ", d);
  }
  TORCH_CHECK(o.overlap >= 0 && o.overlap < 1, "sliding window: overlap must be in [0, 1), got ",
              o.overlap);
  TORCH_CHECK(o.sigma_scale > 0, "sliding window: sigma_scale must be positive, got ",
              o.sigma_scale);
  TORCH_CHECK(o.batch > 0, "sliding window: batch must be positive, got ", o.batch);
}

struct WindowPosition {
  int64_t x, y, z;
};

std::vector<WindowPosition> positions(const std::array<int64_t, 3>& spatial,
                                      const SlidingWindowOptions& o) {
  const auto xs = window_starts(spatial[0], o.window[0], o.overlap);
  const auto ys = window_starts(spatial[1], o.window[1], o.overlap);
  const auto zs = window_starts(spatial[2], o.window[2], o.overlap);
  std::vector<WindowPosition> out;
  out.reserve(xs.size() * ys.size() * zs.size());
  for (int64_t x : xs) {
    for (int64_t y : ys) {
      for (int64_t z : zs) out.push_back({x, y, z});
    }
  }
  return out;
}

torch::Tensor window_of(const torch::Tensor& t, const WindowPosition& p,
                        const std::array<int64_t, 3>& w) {
  return t.narrow(1, p.x, w[0]).narrow(2, p.y, w[1]).narrow(3, p.z, w[2]);
}

}  // namespace

std::vector<int64_t> window_starts(int64_t size, int64_t window, double overlap) {
  TORCH_CHECK(window > 0 && size >= window, "window_starts: need 0 < window <= size, got window ",
              window, " and size ", size);
  const auto step =
      std::max<int64_t>(1, static_cast<int64_t>(std::floor(window * (1.0 - overlap))));
  std::vector<int64_t> starts;
  for (int64_t s = 0;; s += step) {
    if (s + window >= size) {
      starts.push_back(size - window);
      break;
    }
    starts.push_back(s);
  }
  return starts;
}

std::vector<std::vector<int64_t>> mirror_combinations(const SlidingWindowOptions& o) {
  std::vector<std::vector<int64_t>> out = {{}};
  if (!o.mirror) return out;
  for (int mask = 1; mask < 8; ++mask) {
    std::vector<int64_t> axes;
    bool allowed = true;
    for (int64_t a = 0; a < 3; ++a) {
      if (!(mask & (1 << a))) continue;
      allowed = allowed && o.mirror_axes[a];
      axes.push_back(a);
    }
    if (allowed) out.push_back(axes);
  }
  return out;
}

int64_t count_windows(const std::array<int64_t, 3>& spatial, const SlidingWindowOptions& o) {
  check_options(o);
  int64_t n = 1;
  for (int d = 0; d < 3; ++d) {
    n *= static_cast<int64_t>(
        window_starts(std::max(spatial[d], o.window[d]), o.window[d], o.overlap).size());
  }
  return n;
}

torch::Tensor gaussian_importance(const std::array<int64_t, 3>& window, double sigma_scale) {
  TORCH_CHECK(sigma_scale > 0, "gaussian_importance: sigma_scale must be positive, got ",
              sigma_scale);
  std::vector<torch::Tensor> axes;
  for (int d = 0; d < 3; ++d) {
    const double centre = (window[d] - 1) / 2.0;
    const double sigma = sigma_scale * window[d];
    const torch::Tensor i = torch::arange(window[d], torch::kFloat64) - centre;
    axes.push_back(torch::exp(-(i * i) / (2 * sigma * sigma)));
  }
  torch::Tensor map =
      axes[0].view({-1, 1, 1}) * axes[1].view({1, -1, 1}) * axes[2].view({1, 1, -1});
  map = map / map.max();
  return map.clamp_min(1e-4).to(torch::kFloat32).contiguous();
}

torch::Tensor sliding_window_predict(const torch::Tensor& image, const Predictor& predictor,
                                     int64_t out_channels, const SlidingWindowOptions& o) {
  check_options(o);
  TORCH_CHECK(image.dim() == 4, "sliding_window_predict: expected an image {C, X, Y, Z}, got ",
              image.sizes());
  TORCH_CHECK(out_channels > 0, "sliding_window_predict: out_channels must be positive, got ",
              out_channels);
  TORCH_CHECK(predictor, "sliding_window_predict: no predictor");
  torch::NoGradGuard no_grad;
  const std::array<int64_t, 3> size = {image.size(1), image.size(2), image.size(3)};
  const std::array<int64_t, 3>& w = o.window;

  // Centred zero padding up to the window on axes that are smaller than it.
  std::vector<int64_t> pad;  // constant_pad_nd order: last dim first
  std::array<int64_t, 3> lower{}, padded{};
  for (int d = 2; d >= 0; --d) {
    const int64_t missing = std::max<int64_t>(0, w[d] - size[d]);
    lower[d] = missing / 2;
    padded[d] = size[d] + missing;
    pad.push_back(lower[d]);
    pad.push_back(missing - lower[d]);
  }
  const torch::Tensor input = torch::constant_pad_nd(image.to(torch::kCPU), pad, 0).contiguous();

  const auto windows = positions(padded, o);
  const auto flips = mirror_combinations(o);
  const torch::Tensor importance_cpu = gaussian_importance(w, o.sigma_scale);
  const torch::Tensor importance = importance_cpu.to(o.device);
  // Weighted outputs and weights stay on the CPU: a whole-volume accumulator on the GPU would cost
  // as much memory as the network's activations for one window.
  torch::Tensor sum = torch::zeros({out_channels, padded[0], padded[1], padded[2]});
  torch::Tensor weight = torch::zeros({1, padded[0], padded[1], padded[2]});

  for (size_t first = 0; first < windows.size(); first += o.batch) {
    const size_t last = std::min(windows.size(), first + static_cast<size_t>(o.batch));
    std::vector<torch::Tensor> crops;
    for (size_t i = first; i < last; ++i) crops.push_back(window_of(input, windows[i], w));
    const torch::Tensor batch = torch::stack(crops).to(o.device);
    const int64_t b = batch.size(0);

    torch::Tensor merged;
    for (const auto& axes : flips) {
      std::vector<int64_t> dims;
      for (int64_t a : axes) dims.push_back(a + 2);
      torch::Tensor out = predictor(dims.empty() ? batch : batch.flip(dims));
      TORCH_CHECK(out.dim() == 5 && out.size(0) == b && out.size(1) == out_channels &&
                      out.size(2) == w[0] && out.size(3) == w[1] && out.size(4) == w[2],
                  "sliding_window_predict: the predictor returned ", out.sizes(), " for windows ",
                  batch.sizes(), "; expected {", b, ", ", out_channels, ", ", w[0], ", ", w[1],
                  ", ", w[2], "}");
      out = out.to(importance.device(), torch::kFloat32);
      if (!dims.empty()) out = out.flip(dims);
      merged = merged.defined() ? merged.add_(out) : out.clone();
    }
    // Mean over flips, then the importance weight (it broadcasts over batch and channels).
    const torch::Tensor weighted =
        merged.div_(static_cast<double>(flips.size())).mul_(importance).to(torch::kCPU);
    for (int64_t i = 0; i < b; ++i) {
      const WindowPosition& p = windows[first + i];
      window_of(sum, p, w).add_(weighted[i]);
      window_of(weight, p, w).add_(importance_cpu);
    }
  }

  torch::Tensor result = sum.div_(weight);
  for (int d = 0; d < 3; ++d) result = result.narrow(d + 1, lower[d], size[d]);
  return result.contiguous();
}

}  // namespace revunet::infer

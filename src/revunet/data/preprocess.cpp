#include "revunet/data/preprocess.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace revunet::data {
namespace {

// Bounding box of a boolean mask {X,Y,Z}; nullopt-like `found = false` when the mask is empty.
CropBox mask_box(const torch::Tensor& mask, bool* found) {
  CropBox box;
  *found = false;
  for (int64_t d = 0; d < 3; ++d) {
    // Project the mask onto axis d by reducing the other two dims.
    std::vector<int64_t> others;
    for (int64_t o = 0; o < 3; ++o) {
      if (o != d) others.push_back(o);
    }
    const torch::Tensor line = mask.amax(others).nonzero();
    if (line.numel() == 0) return box;
    box.lo[d] = line.min().item<int64_t>();
    box.hi[d] = line.max().item<int64_t>() + 1;
  }
  *found = true;
  return box;
}

void check_box(const CropBox& box, const std::array<int64_t, 3>& shape) {
  for (int d = 0; d < 3; ++d) {
    TORCH_CHECK(0 <= box.lo[d] && box.lo[d] <= box.hi[d] && box.hi[d] <= shape[d], "crop box [",
                box.lo[d], ", ", box.hi[d], ") on spatial dim ", d,
                " does not fit a volume of size ", shape[d]);
  }
}

}  // namespace

CropBox nonzero_bounding_box(const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 4, "nonzero_bounding_box expects an image {C,X,Y,Z}, got sizes ",
              image.sizes());
  bool found = false;
  // amax over bool is not available everywhere; reduce as uint8.
  CropBox box = mask_box((image != 0).any(0).to(torch::kUInt8), &found);
  if (!found) {
    const auto shape = spatial_shape(image);
    box.lo = {0, 0, 0};
    box.hi = shape;
  }
  return box;
}

torch::Tensor crop_to_box(const torch::Tensor& t, const CropBox& box) {
  TORCH_CHECK(t.dim() >= 3, "crop_to_box expects at least 3 dims {...,X,Y,Z}, got sizes ",
              t.sizes());
  check_box(box, spatial_shape(t));
  torch::Tensor view = t;
  const int64_t first = t.dim() - 3;
  for (int64_t d = 0; d < 3; ++d) {
    view = view.narrow(first + d, box.lo[d], box.hi[d] - box.lo[d]);
  }
  return view.clone(at::MemoryFormat::Contiguous);
}

torch::Tensor paste_from_box(const torch::Tensor& cropped, const CropBox& box,
                             std::array<int64_t, 3> full_shape, double fill) {
  TORCH_CHECK(cropped.dim() >= 3, "paste_from_box expects at least 3 dims {...,x,y,z}, got sizes ",
              cropped.sizes());
  check_box(box, full_shape);
  TORCH_CHECK(spatial_shape(cropped) == box.size(), "paste_from_box: cropped sizes ",
              cropped.sizes(), " do not match the box size [", box.size()[0], ", ", box.size()[1],
              ", ", box.size()[2], "]");
  std::vector<int64_t> sizes(cropped.sizes().begin(), cropped.sizes().end() - 3);
  sizes.insert(sizes.end(), full_shape.begin(), full_shape.end());
  torch::Tensor full = torch::full(sizes, fill, cropped.options());
  torch::Tensor view = full;
  const int64_t first = cropped.dim() - 3;
  for (int64_t d = 0; d < 3; ++d) {
    view = view.narrow(first + d, box.lo[d], box.hi[d] - box.lo[d]);
  }
  view.copy_(cropped);
  return full;
}

IntensityFences intensity_fences(const torch::Tensor& modality, double widths) {
  TORCH_CHECK(modality.dim() == 3, "intensity_fences expects a modality {X,Y,Z}, got sizes ",
              modality.sizes());
  torch::NoGradGuard no_grad;
  constexpr int64_t kSample = int64_t{1} << 20;
  const torch::Tensor flat = modality.reshape({-1});
  const int64_t stride = std::max<int64_t>(1, flat.numel() / kSample);
  torch::Tensor sample = flat.slice(0, 0, flat.numel(), stride);
  sample = sample.masked_select(sample != 0);
  if (sample.numel() < 1000) sample = flat.masked_select(flat != 0);  // a small brain: all of it
  IntensityFences f;
  if (sample.numel() == 0) {
    f.low = -std::numeric_limits<double>::infinity();
    f.high = std::numeric_limits<double>::infinity();
    return f;
  }
  sample = sample.to(torch::kDouble);
  // Nearest-rank percentiles (kthvalue is 1-based and linear-time).
  const int64_t n = sample.numel();
  const auto rank = [n](double q) {
    return std::min<int64_t>(n, 1 + static_cast<int64_t>(q * static_cast<double>(n - 1)));
  };
  f.percentile_low = std::get<0>(sample.kthvalue(rank(0.005))).item<double>();
  f.percentile_high = std::get<0>(sample.kthvalue(rank(0.995))).item<double>();
  double width = f.percentile_high - f.percentile_low;
  // Nearly all voxels share one value: the range of the values themselves sets the scale.
  if (!(width > 0))
    width = std::max({std::abs(f.percentile_low), std::abs(f.percentile_high), 1.0});
  f.low = f.percentile_low - widths * width;
  f.high = f.percentile_high + widths * width;
  return f;
}

torch::Tensor zscore_nonzero(const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 4, "zscore_nonzero expects an image {C,X,Y,Z}, got sizes ",
              image.sizes());
  TORCH_CHECK(image.is_floating_point(), "zscore_nonzero expects a floating image, got ",
              image.scalar_type());
  torch::NoGradGuard no_grad;
  torch::Tensor out = torch::zeros_like(image, at::MemoryFormat::Contiguous);
  for (int64_t c = 0; c < image.size(0); ++c) {
    const torch::Tensor mask = image[c] != 0;
    // Outliers (a few voxels at 1e30) would set the std by themselves and squash the brain to 0.
    const IntensityFences fences = intensity_fences(image[c]);
    const torch::Tensor x = image[c].clamp(fences.low, fences.high);
    // Statistics in double: a brain has ~10^6 voxels, float sums lose digits.
    const torch::Tensor values = x.masked_select(mask).to(torch::kDouble);
    if (values.numel() == 0) continue;
    const double mean = values.mean().item<double>();
    const double sd = (values - mean).square().mean().sqrt().item<double>();
    // A constant modality has std 0: its voxels all equal the mean, so they map to 0.
    const double scale = sd > 1e-8 ? 1.0 / sd : 0.0;
    // Float arithmetic for the volume (double only for the statistics): this runs per case.
    out[c].copy_(x).sub_(mean).mul_(scale).masked_fill_(mask.logical_not(), 0);
  }
  return out;
}

PreprocessedCase preprocess_case(std::string id, const torch::Tensor& image,
                                 const torch::Tensor& regions, std::array<double, 3> spacing) {
  TORCH_CHECK(image.dim() == 4, "preprocess_case(", id, "): image must be {C,X,Y,Z}, got sizes ",
              image.sizes());
  const auto shape = spatial_shape(image);
  CropBox box = nonzero_bounding_box(image);
  torch::Tensor regions_u8;
  if (regions.defined()) {
    TORCH_CHECK(regions.dim() == 4 && regions.size(0) == 3 && spatial_shape(regions) == shape,
                "preprocess_case(", id, "): regions must be {3,X,Y,Z} with the image's X,Y,Z ",
                image.sizes().slice(1), ", got sizes ", regions.sizes());
    regions_u8 = regions.ne(0).to(torch::kUInt8);
    // A label outside the brain is unusual but must not be cropped away silently.
    bool found = false;
    const CropBox label_box = mask_box(regions_u8.amax(0), &found);
    if (found) {
      for (int d = 0; d < 3; ++d) {
        box.lo[d] = std::min(box.lo[d], label_box.lo[d]);
        box.hi[d] = std::max(box.hi[d], label_box.hi[d]);
      }
    }
  }
  PreprocessedCase out;
  out.id = std::move(id);
  out.image = zscore_nonzero(crop_to_box(image.to(torch::kFloat), box));
  if (regions_u8.defined()) out.regions = crop_to_box(regions_u8, box);
  out.box = box;
  out.original_shape = shape;
  out.spacing = spacing;
  return out;
}

}  // namespace revunet::data

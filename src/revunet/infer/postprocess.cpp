#include "revunet/infer/postprocess.h"

#include <torch/torch.h>

namespace revunet::infer {
namespace {

constexpr int64_t kWT = 0, kTC = 1, kET = 2;

void check_regions(const torch::Tensor& t, const char* what) {
  TORCH_CHECK(t.dim() >= 1 && t.size(0) == 3, what,
              ": expected regions {3, ...} (WT, TC, ET), got ", t.sizes());
}

}  // namespace

torch::Tensor threshold_regions(const torch::Tensor& probabilities, double threshold) {
  check_regions(probabilities, "threshold_regions");
  TORCH_CHECK(probabilities.is_floating_point(),
              "threshold_regions: expected floating probabilities, got ",
              probabilities.scalar_type());
  return probabilities.gt(threshold);
}

torch::Tensor remove_small_enhancing(const torch::Tensor& regions, int64_t min_voxels) {
  check_regions(regions, "remove_small_enhancing");
  torch::Tensor out = regions.to(torch::kBool).clone();
  if (min_voxels <= 0) return out;
  if (out[kET].sum().item<int64_t>() < min_voxels) {
    out[kTC].logical_or_(out[kET]);
    out[kET].zero_();
  }
  return out;
}

torch::Tensor enforce_hierarchy(const torch::Tensor& regions, Hierarchy hierarchy) {
  check_regions(regions, "enforce_hierarchy");
  torch::Tensor out = regions.to(torch::kBool).clone();
  switch (hierarchy) {
    case Hierarchy::kNone:
      break;
    case Hierarchy::kGrowParents:
      out[kTC].logical_or_(out[kET]);
      out[kWT].logical_or_(out[kTC]);
      break;
    case Hierarchy::kShrinkChildren:
      out[kTC].logical_and_(out[kWT]);
      out[kET].logical_and_(out[kTC]);
      break;
  }
  return out;
}

torch::Tensor postprocess(const torch::Tensor& probabilities, const PostprocessOptions& options) {
  torch::Tensor regions = threshold_regions(probabilities, options.threshold);
  regions = remove_small_enhancing(regions, options.min_enhancing_voxels);
  return enforce_hierarchy(regions, options.hierarchy);
}

}  // namespace revunet::infer

#include "revunet/data/regions.h"

#include <array>

namespace revunet::data {
namespace {

enum class TumourClass { kNCR, kED, kET };

// Which regions each tumour class belongs to, and which class paints each region back.
struct ClassRegions {
  TumourClass cls;
  std::array<bool, kNumRegions> in;  // WT, TC, ET
};
constexpr ClassRegions kClassRegions[] = {
    {TumourClass::kNCR, {true, true, false}},
    {TumourClass::kED, {true, false, false}},
    {TumourClass::kET, {true, true, true}},
};
// Painting order: a voxel ends with the label of the last region that holds it.
constexpr std::array<TumourClass, kNumRegions> kPaintClass = {TumourClass::kED, TumourClass::kNCR,
                                                              TumourClass::kET};
constexpr const char* kRegionNames[kNumRegions] = {"WT", "TC", "ET"};

int64_t label_of(TumourClass cls, LabelConvention convention) {
  const auto& spec = convention_spec(convention);
  switch (cls) {
    case TumourClass::kNCR:
      return spec.ncr;
    case TumourClass::kED:
      return spec.ed;
    case TumourClass::kET:
      return spec.et;
  }
  return 0;
}

}  // namespace

std::string region_name(Region region) {
  const int r = static_cast<int>(region);
  TORCH_CHECK(r >= 0 && r < kNumRegions, "unknown Region ", r);
  return kRegionNames[r];
}

torch::Tensor labels_to_regions(const torch::Tensor& labels, LabelConvention convention) {
  TORCH_CHECK(labels.dim() == 3 || labels.dim() == 4,
              "labels_to_regions expects {X,Y,Z} or {B,X,Y,Z} labels, got ", labels.sizes());
  TORCH_CHECK(!labels.is_floating_point(), "labels_to_regions expects integer labels, got ",
              labels.scalar_type());
  const int64_t channel_dim = labels.dim() == 3 ? 0 : 1;
  std::vector<torch::Tensor> regions;
  for (int r = 0; r < kNumRegions; ++r) {
    torch::Tensor mask = torch::zeros(labels.sizes(), labels.options().dtype(torch::kBool));
    for (const auto& row : kClassRegions) {
      if (row.in[r]) mask = mask.logical_or(labels == label_of(row.cls, convention));
    }
    regions.push_back(mask);
  }
  return torch::stack(regions, channel_dim).to(torch::kFloat32);
}

torch::Tensor regions_to_labels(const torch::Tensor& regions, LabelConvention convention) {
  TORCH_CHECK(regions.dim() == 4 && regions.size(0) == kNumRegions,
              "regions_to_labels expects {3,X,Y,Z} regions, got ", regions.sizes());
  const torch::Tensor on = regions.dtype() == torch::kBool ? regions : regions > 0.5;
  torch::Tensor labels = torch::zeros({regions.size(1), regions.size(2), regions.size(3)},
                                      regions.options().dtype(torch::kInt64));
  for (int r = 0; r < kNumRegions; ++r) {
    labels.masked_fill_(on[r], label_of(kPaintClass[r], convention));
  }
  return labels;
}

}  // namespace revunet::data

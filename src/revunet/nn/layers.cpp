#include "revunet/nn/layers.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/instancenorm.h>
#include <torch/nn/modules/normalization.h>

#include "revunet/core/error.h"

namespace revunet::nn {

NormKind parse_norm(const std::string& text) {
  if (text == "group") return NormKind::kGroup;
  if (text == "instance") return NormKind::kInstance;
  fail("norm '" + text + "'", "expected group or instance");
}

ActivationKind parse_activation(const std::string& text) {
  if (text == "silu") return ActivationKind::kSiLU;
  if (text == "relu6") return ActivationKind::kReLU6;
  if (text == "leaky_relu") return ActivationKind::kLeakyReLU;
  fail("activation '" + text + "'", "expected silu, relu6 or leaky_relu");
}

std::string to_string(NormKind kind) { return kind == NormKind::kGroup ? "group" : "instance"; }

std::string to_string(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kSiLU:
      return "silu";
    case ActivationKind::kReLU6:
      return "relu6";
    case ActivationKind::kLeakyReLU:
      return "leaky_relu";
  }
  return "unknown";
}

int64_t group_count(int64_t channels, int64_t wanted) {
  TORCH_CHECK(channels > 0 && wanted > 0, "group_count needs positive channels and groups, got ",
              channels, " and ", wanted);
  for (int64_t g = std::min(channels, wanted); g > 1; --g) {
    if (channels % g == 0) return g;
  }
  return 1;
}

torch::nn::AnyModule make_norm(NormKind kind, int64_t channels, int64_t groups) {
  if (kind == NormKind::kInstance) {
    return torch::nn::AnyModule(torch::nn::InstanceNorm3d(
        torch::nn::InstanceNorm3dOptions(channels).affine(true).track_running_stats(false)));
  }
  return torch::nn::AnyModule(
      torch::nn::GroupNorm(torch::nn::GroupNormOptions(group_count(channels, groups), channels)));
}

torch::nn::AnyModule make_activation(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kReLU6:
      return torch::nn::AnyModule(torch::nn::ReLU6());
    case ActivationKind::kLeakyReLU:
      return torch::nn::AnyModule(
          torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.01)));
    case ActivationKind::kSiLU:
    default:
      return torch::nn::AnyModule(torch::nn::SiLU());
  }
}

}  // namespace revunet::nn

#include "revunet/train/loss.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>

#include <numeric>

#include "revunet/core/error.h"

namespace revunet::train {
namespace {

namespace F = torch::nn::functional;

void check_pair(const torch::Tensor& logits, const torch::Tensor& target,
                const LossOptions& options) {
  TORCH_CHECK(logits.dim() >= 3, "loss: logits must be {B, regions, spatial...}, got ",
              logits.sizes());
  TORCH_CHECK(logits.sizes() == target.sizes(), "loss: logits ", logits.sizes(), " and target ",
              target.sizes(), " differ in shape");
  TORCH_CHECK(logits.size(1) == static_cast<int64_t>(options.region_weights.size()),
              "loss: expected ", options.region_weights.size(), " region channels, got ",
              logits.size(1));
}

// Loss arithmetic happens in float32 at least, even when the forward ran under autocast.
torch::Tensor promoted(const torch::Tensor& t) {
  return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
}

struct PerSample {
  torch::Tensor bce;   // {B, R}
  torch::Tensor dice;  // {B, R}, 1 - soft Dice
};

PerSample per_sample_region_terms(const torch::Tensor& raw_logits, const torch::Tensor& raw_target,
                                  const LossOptions& options) {
  check_pair(raw_logits, raw_target, options);
  const torch::Tensor logits = promoted(raw_logits);
  const torch::Tensor target = raw_target.to(logits.scalar_type());
  const int64_t b = logits.size(0);
  const int64_t r = logits.size(1);
  const torch::Tensor flat_logits = logits.reshape({b, r, -1});
  const torch::Tensor flat_target = target.reshape({b, r, -1});

  PerSample out;
  out.bce = F::binary_cross_entropy_with_logits(
                flat_logits, flat_target,
                F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
                .mean(-1);
  const torch::Tensor prob = torch::sigmoid(flat_logits);
  const torch::Tensor intersection = (prob * flat_target).sum(-1);
  const torch::Tensor denominator = prob.sum(-1) + flat_target.sum(-1);
  out.dice = 1 - (2 * intersection + options.smooth) / (denominator + options.smooth);
  return out;
}

torch::Tensor region_weight_tensor(const LossOptions& options, const torch::Tensor& like) {
  const double sum =
      std::accumulate(options.region_weights.begin(), options.region_weights.end(), 0.0);
  TORCH_CHECK(sum > 0, "loss: region weights must sum to more than 0");
  std::vector<double> w(options.region_weights.begin(), options.region_weights.end());
  for (double& v : w) v /= sum;
  return torch::tensor(w, torch::TensorOptions().dtype(torch::kDouble)).to(like.options());
}

}  // namespace

torch::Tensor region_loss_per_sample(const torch::Tensor& logits, const torch::Tensor& target,
                                     const LossOptions& options) {
  const PerSample terms = per_sample_region_terms(logits, target, options);
  const torch::Tensor w = region_weight_tensor(options, terms.bce);
  return ((options.bce_weight * terms.bce + options.dice_weight * terms.dice) * w).sum(1);
}

LossParts region_loss(const torch::Tensor& logits, const torch::Tensor& target,
                      const LossOptions& options) {
  const PerSample terms = per_sample_region_terms(logits, target, options);
  const torch::Tensor w = region_weight_tensor(options, terms.bce);
  LossParts parts;
  parts.bce = (terms.bce * w).sum(1).mean();
  parts.dice = (terms.dice * w).sum(1).mean();
  parts.total = options.bce_weight * parts.bce + options.dice_weight * parts.dice;
  return parts;
}

TargetDownsample parse_target_downsample(const std::string& text) {
  if (text == "max" || text == "maxpool" || text == "max_pool") return TargetDownsample::kMaxPool;
  if (text == "nearest") return TargetDownsample::kNearest;
  fail("deep supervision target downsampling '" + text + "'", "expected max or nearest");
}

torch::Tensor downsample_target(const torch::Tensor& target, at::IntArrayRef spatial_size,
                                TargetDownsample mode) {
  const int64_t spatial = target.dim() - 2;
  TORCH_CHECK(spatial >= 1 && spatial <= 3, "downsample_target: target must be {B, C, 1-3 dims}, ",
              "got ", target.sizes());
  TORCH_CHECK(static_cast<int64_t>(spatial_size.size()) == spatial, "downsample_target: size ",
              spatial_size, " does not match target ", target.sizes());
  if (target.sizes().slice(2) == spatial_size) return target;
  const std::vector<int64_t> size(spatial_size.begin(), spatial_size.end());
  const torch::Tensor t = promoted(target);
  torch::Tensor out;
  if (mode == TargetDownsample::kNearest) {
    out = F::interpolate(t, F::InterpolateFuncOptions().size(size).mode(torch::kNearest));
  } else if (spatial == 1) {
    out = F::adaptive_max_pool1d(t, F::AdaptiveMaxPool1dFuncOptions(size[0]));
  } else if (spatial == 2) {
    out = F::adaptive_max_pool2d(t, F::AdaptiveMaxPool2dFuncOptions({size[0], size[1]}));
  } else {
    out = F::adaptive_max_pool3d(t, F::AdaptiveMaxPool3dFuncOptions({size[0], size[1], size[2]}));
  }
  return out.to(target.scalar_type());
}

std::vector<double> halving_weights(size_t levels) {
  std::vector<double> w(levels);
  double sum = 0;
  for (size_t i = 0; i < levels; ++i) sum += (w[i] = std::ldexp(1.0, -static_cast<int>(i)));
  for (double& v : w) v /= sum;
  return w;
}

LossParts deep_supervision_loss(const std::vector<torch::Tensor>& logits,
                                const torch::Tensor& target, const LossOptions& options,
                                std::vector<double> weights, TargetDownsample mode) {
  TORCH_CHECK(!logits.empty(), "deep_supervision_loss: no outputs given");
  if (weights.empty()) weights = halving_weights(logits.size());
  TORCH_CHECK(weights.size() == logits.size(), "deep_supervision_loss: ", weights.size(),
              " weights for ", logits.size(), " outputs");
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  TORCH_CHECK(sum > 0, "deep_supervision_loss: weights must sum to more than 0");
  if (logits.size() == 1) return region_loss(logits[0], target, options);

  LossParts total;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (weights[i] == 0) continue;
    const torch::Tensor level_target = downsample_target(target, logits[i].sizes().slice(2), mode);
    const LossParts level = region_loss(logits[i], level_target, options);
    const double w = weights[i] / sum;
    if (!total.total.defined()) {
      total = {w * level.total, w * level.bce, w * level.dice};
    } else {
      total.total = total.total + w * level.total;
      total.bce = total.bce + w * level.bce;
      total.dice = total.dice + w * level.dice;
    }
  }
  return total;
}

}  // namespace revunet::train

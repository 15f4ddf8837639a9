#include "revunet/nn/unet.h"

#include <torch/nn/modules/upsampling.h>

#include <algorithm>
#include <utility>

#include "revunet/core/error.h"
#include "revunet/nn/layers.h"
#include "revunet/nn/mbconv.h"

namespace revunet::nn {
namespace {

// Conv + norm + activation; the conv has no bias because the norm removes it anyway.
torch::nn::Sequential conv_norm_act(const UNetConfig& c, int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Sequential(
      torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, 3).stride(stride).padding(1).bias(false)),
      make_norm(c.norm, out, c.groups), make_activation(c.activation));
}

torch::nn::Sequential upsampling(const UNetConfig& c, int64_t in, int64_t out) {
  if (c.upsampling == Upsampling::kTransposedConv) {
    return torch::nn::Sequential(torch::nn::ConvTranspose3d(
        torch::nn::ConvTranspose3dOptions(in, out, 2).stride(2).bias(true)));
  }
  // "trilinear + 1x1x1 conv", run as 1x1x1 conv first: both are linear and trilinear weights sum
  // to one, so the result is the same, but the conv then runs (and stores its input) at 1/8 of the
  // voxels instead of keeping a full-resolution input of `in` channels for backward.
  return torch::nn::Sequential(
      torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, 1).bias(true)),
      torch::nn::Upsample(torch::nn::UpsampleOptions()
                              .scale_factor(std::vector<double>{2.0, 2.0, 2.0})
                              .mode(torch::kTrilinear)
                              .align_corners(false)));
}

torch::nn::Conv3d pointwise_with_bias(int64_t in, int64_t out) {
  return torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, 1).bias(true));
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

torch::Tensor crop(const torch::Tensor& t, const std::vector<int64_t>& sizes) {
  if (t.size(2) == sizes[0] && t.size(3) == sizes[1] && t.size(4) == sizes[2]) return t;
  return t.slice(2, 0, sizes[0]).slice(3, 0, sizes[1]).slice(4, 0, sizes[2]).contiguous();
}

}  // namespace

UNetImpl::UNetImpl(UNetConfig config) : config_(std::move(config)) {
  const auto& c = config_;
  const auto levels = static_cast<size_t>(c.levels);
  TORCH_CHECK(c.levels >= 1 && c.widths.size() == levels && c.encoder_couplings.size() == levels &&
                  c.decoder_couplings.size() == levels - 1,
              "UNetConfig is not resolved: levels ", c.levels, " with ", c.widths.size(),
              " widths, ", c.encoder_couplings.size(), " encoder and ", c.decoder_couplings.size(),
              " decoder coupling counts (use unet_config_from_json)");
  for (const auto& [name, mode] : c.stage_modes) {
    auto names = nn::stage_names(c.levels);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      fail("stage_modes",
           "no stage named '" + name + "' in a " + std::to_string(c.levels) + "-level U-Net");
    }
  }
  const auto& w = c.widths;
  stem_ = register_module("stem", conv_norm_act(c, c.in_channels, w[0], 1));
  for (size_t l = 0; l < levels; ++l) {
    const std::string name = "enc" + std::to_string(l);
    auto stage =
        make_mbconv_stack(w[l], c.encoder_couplings[l], c.mbconv_options(w[l]), c.stage_mode(name));
    encoder_.push_back(register_module(name, stage));
    stages_.emplace(name, stage);
    if (l + 1 < levels) {
      down_.push_back(
          register_module("down" + std::to_string(l), conv_norm_act(c, w[l], w[l + 1], 2)));
    }
  }
  // Decoder modules are built deepest level first, the order they run in.
  up_.resize(levels - 1, nullptr);
  merge_.resize(levels - 1, nullptr);
  decoder_.resize(levels - 1, nullptr);
  deep_heads_.resize(levels > 1 ? levels - 1 : 0, nullptr);
  for (size_t l = levels - 1; l-- > 0;) {
    const std::string suffix = std::to_string(l);
    up_[l] = register_module("up" + suffix, upsampling(c, w[l + 1], w[l]));
    if (c.skip == SkipMerge::kConcat) {
      merge_[l] = register_module("merge" + suffix, pointwise_with_bias(2 * w[l], w[l]));
    }
    decoder_[l] = register_module(
        "dec" + suffix, make_mbconv_stack(w[l], c.decoder_couplings[l], c.mbconv_options(w[l]),
                                          c.stage_mode("dec" + suffix)));
    stages_.emplace("dec" + suffix, decoder_[l]);
    if (c.deep_supervision && l >= 1) {
      deep_heads_[l] =
          register_module("deep_head" + suffix, pointwise_with_bias(w[l], c.out_channels));
    }
  }
  head_ = register_module("head", pointwise_with_bias(w[0], c.out_channels));
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x) {
  return run(x, false)[0];
}

std::vector<torch::Tensor> UNetImpl::forward_deep(const torch::Tensor& x) {
  return run(x, true);
}

std::vector<torch::Tensor> UNetImpl::run(const torch::Tensor& x, bool deep) {
  const auto& c = config_;
  TORCH_CHECK(x.dim() == 5 && x.size(1) == c.in_channels, "UNet expects input {B, ", c.in_channels,
              ", X, Y, Z}, got ", x.sizes());
  const std::vector<int64_t> sizes = {x.size(2), x.size(3), x.size(4)};
  const int64_t m = c.size_multiple();
  torch::Tensor h = x;
  if (sizes[0] % m != 0 || sizes[1] % m != 0 || sizes[2] % m != 0) {
    // constant_pad_nd takes (before, after) pairs starting from the last dimension.
    std::vector<int64_t> pad;
    for (int d = 2; d >= 0; --d) pad.insert(pad.end(), {0, ceil_div(sizes[d], m) * m - sizes[d]});
    h = torch::constant_pad_nd(x, pad, 0);
  }

  auto mark = [this](const std::string& part) {
    if (observer_) observer_(part);
  };
  h = stem_->forward(h);
  mark("stem");
  std::vector<torch::Tensor> skips;
  for (size_t l = 0; l < encoder_.size(); ++l) {
    h = encoder_[l]->forward(h);
    mark("enc" + std::to_string(l));
    if (l < down_.size()) {
      skips.push_back(h);
      h = down_[l]->forward(h);
      mark("down" + std::to_string(l));
    }
  }
  std::vector<torch::Tensor> outputs(1);
  for (size_t l = decoder_.size(); l-- > 0;) {
    const std::string suffix = std::to_string(l);
    h = up_[l]->forward(h);
    mark("up" + suffix);
    h = merge_[l] ? merge_[l]->forward(torch::cat({h, skips[l]}, 1)) : h + skips[l];
    skips[l] = torch::Tensor();  // our handle only; autograd keeps what backward needs
    mark("merge" + suffix);
    h = decoder_[l]->forward(h);
    mark("dec" + suffix);
    if (deep && deep_heads_[l]) {
      const int64_t scale = int64_t{1} << l;
      outputs.push_back(
          crop(deep_heads_[l]->forward(h),
               {ceil_div(sizes[0], scale), ceil_div(sizes[1], scale), ceil_div(sizes[2], scale)}));
      mark("deep_head" + suffix);
    }
  }
  outputs[0] = crop(head_->forward(h), sizes);
  mark("head");
  // Deep heads were collected deepest first; callers want decreasing resolution.
  std::reverse(outputs.begin() + 1, outputs.end());
  return outputs;
}

const rev::ReversibleSequence& UNetImpl::stage(const std::string& name) const {
  auto it = stages_.find(name);
  if (it == stages_.end()) {
    std::string known;
    for (const auto& n : stage_names()) known += (known.empty() ? "" : ", ") + n;
    fail("stage '" + name + "'", "no such stage in this " + std::to_string(config_.levels) +
                                     "-level U-Net; stages are " + known);
  }
  return it->second;
}

void UNetImpl::set_mode(rev::StackMode mode) {
  for (auto& [name, s] : stages_) s->set_mode(mode);
  config_.mode = mode;
  config_.stage_modes.clear();
}

void UNetImpl::set_stage_mode(const std::string& name, rev::StackMode mode) {
  rev::ReversibleSequence s = stage(name);  // a non-const handle to the shared module
  s->set_mode(mode);
  if (mode == config_.mode) {
    config_.stage_modes.erase(name);
  } else {
    config_.stage_modes[name] = mode;
  }
}

rev::StackMode UNetImpl::stage_mode(const std::string& name) const {
  return stage(name)->mode();
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

}  // namespace revunet::nn

// The 3D U-Net assembled from a UNetConfig: a stem, one reversible MBConv stage per encoder level
// (the last is the bottleneck), strided-conv downsampling between levels, and per decoder level an
// upsampling, a skip merge and another reversible MBConv stage; a 1x1x1 head gives region logits.
//
//   x -> stem -> enc0 ------------------------------(skip)--> merge -> dec0 -> head -> logits
//                 \-> down0 -> enc1 ---------(skip)--> merge -> dec1 -> up0 /
//                               \-> down1 -> enc2 (bottleneck) -> up1 /
//
// Only the stages are reversible; the other layers store their activations as usual, so they are
// kept lean at full resolution (docs/configs.md has the memory accounting).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "revunet/nn/unet_config.h"
#include "revunet/rev/reversible_sequence.h"

namespace revunet::nn {

class UNetImpl : public torch::nn::Module {
 public:
  explicit UNetImpl(UNetConfig config);

  // Logits {B, out_channels, X, Y, Z} for input {B, in_channels, X, Y, Z}. Spatial sizes that are
  // not multiples of config().size_multiple() are zero-padded at the far end and cropped back.
  torch::Tensor forward(const torch::Tensor& x);
  // The full-resolution logits first, then (with deep_supervision) the logits of decoder levels
  // 1 .. levels-2 at 1/2, 1/4, ... resolution, each cropped to ceil(size / 2^level).
  std::vector<torch::Tensor> forward_deep(const torch::Tensor& x);

  // Runs every stage in `mode` (clears per-stage overrides).
  void set_mode(rev::StackMode mode);
  // One stage by name (see stage_names()); an unknown name throws revunet::Error.
  void set_stage_mode(const std::string& stage, rev::StackMode mode);
  rev::StackMode stage_mode(const std::string& stage) const;

  // Called after each part of a forward: "stem", "enc<l>", "down<l>", "up<l>" (the upsampling),
  // "merge<l>" (the skip merge), "dec<l>", "deep_head<l>", "head". Measurements use it to read the
  // bytes a part leaves stored (TrainingProbe::stored_by_part); none is set by default.
  using PartObserver = std::function<void(const std::string& part)>;
  void set_part_observer(PartObserver observer) { observer_ = std::move(observer); }

  // The config the network was built from, with the modes it runs in now.
  const UNetConfig& config() const { return config_; }
  std::vector<std::string> stage_names() const { return nn::stage_names(config_.levels); }

 private:
  std::vector<torch::Tensor> run(const torch::Tensor& x, bool deep);
  const rev::ReversibleSequence& stage(const std::string& name) const;

  UNetConfig config_;
  torch::nn::Sequential stem_;
  std::vector<rev::ReversibleSequence> encoder_;  // enc0 .. enc{levels-1}
  std::vector<torch::nn::Sequential> down_;       // level l -> l + 1
  std::vector<torch::nn::Sequential> up_;         // level l + 1 -> l
  std::vector<torch::nn::Conv3d> merge_;          // concat skips only; empty holders for add
  std::vector<rev::ReversibleSequence> decoder_;  // dec0 .. dec{levels-2}
  torch::nn::Conv3d head_{nullptr};
  std::vector<torch::nn::Conv3d> deep_heads_;  // entry l for decoder level l >= 1
  std::map<std::string, rev::ReversibleSequence> stages_;
  PartObserver observer_;
};
TORCH_MODULE(UNet);

// Number of parameter elements (all parameters, trainable or not).
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace revunet::nn

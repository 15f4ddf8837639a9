#include "revunet/nn/unet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <string>
#include <vector>

#include "revunet/core/error.h"
#include "revunet/core/memory.h"

namespace revunet::nn {
namespace {

using rev::StackMode;

UNetConfig small_config() {
  UNetConfig c;
  c.levels = 3;
  c.widths = {4, 8, 8};
  c.encoder_couplings = {2, 1, 2};
  c.decoder_couplings = {1, 2};
  c.expansion = 2;
  c.groups = 2;
  return c;
}

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = std::max(b.abs().max().item<double>(), 1e-300);
  return (a - b).abs().max().item<double>() / scale;
}

struct Result {
  torch::Tensor output;
  torch::Tensor input_grad;
  std::vector<torch::Tensor> param_grads;
};

// One forward + backward of `net` in `mode` with a fixed upstream gradient.
Result run(UNet& net, StackMode mode, const torch::Tensor& x0, const torch::Tensor& grad_out) {
  net->set_mode(mode);
  net->zero_grad(/*set_to_none=*/true);
  auto x = x0.clone().requires_grad_(true);
  auto y = net->forward(x);
  y.backward(grad_out);
  Result r{y.detach(), x.grad(), {}};
  for (const auto& p : net->parameters()) r.param_grads.push_back(p.grad().clone());
  return r;
}

void expect_modes_agree(const UNetConfig& config, uint64_t seed, std::vector<int64_t> shape) {
  torch::manual_seed(seed);
  UNet net(config);
  net->to(torch::kFloat64);
  auto x = torch::randn(shape, torch::kFloat64);
  shape[1] = config.out_channels;
  auto grad_out = torch::randn(shape, torch::kFloat64);
  const Result plain = run(net, StackMode::kPlain, x, grad_out);
  for (auto mode : {StackMode::kCheckpoint, StackMode::kReversible}) {
    const Result r = run(net, mode, x, grad_out);
    const std::string what = rev::to_string(mode) + ", seed " + std::to_string(seed);
    EXPECT_LE(relative_error(r.output, plain.output), 1e-12) << what;
    EXPECT_LE(relative_error(r.input_grad, plain.input_grad), 1e-10) << what;
    ASSERT_EQ(r.param_grads.size(), plain.param_grads.size());
    for (size_t i = 0; i < r.param_grads.size(); ++i) {
      EXPECT_LE(relative_error(r.param_grads[i], plain.param_grads[i]), 1e-10)
          << what << ", parameter " << i;
    }
  }
}

TEST(UNet, EveryModeGivesTheSameOutputsAndGradientsOnPaddedOddSizes) {
  for (uint64_t seed : {1, 2, 3}) expect_modes_agree(small_config(), seed, {2, 4, 9, 11, 13});
}

TEST(UNet, ConcatSkipsAndTrilinearUpsamplingAgreeAcrossModesToo) {
  auto c = small_config();
  c.skip = SkipMerge::kConcat;
  c.upsampling = Upsampling::kTrilinear;
  c.squeeze_excitation = true;
  c.norm = NormKind::kInstance;
  expect_modes_agree(c, 7, {1, 4, 7, 8, 5});
}

TEST(UNet, LogitsHaveTheInputsSpatialSizeAndOneChannelPerRegion) {
  torch::manual_seed(0);
  UNet net(small_config());
  torch::NoGradGuard no_grad;
  EXPECT_EQ(net->forward(torch::randn({2, 4, 9, 11, 13})).sizes(),
            (std::vector<int64_t>{2, 3, 9, 11, 13}));
  EXPECT_EQ(net->forward(torch::randn({1, 4, 8, 12, 4})).sizes(),
            (std::vector<int64_t>{1, 3, 8, 12, 4}));
  EXPECT_THROW(net->forward(torch::randn({1, 3, 8, 8, 8})), c10::Error);
}

TEST(UNet, PaddingChangesNothingWhenTheSizeIsAlreadyAMultiple) {
  // A padded odd-size input must give the same logits as padding by hand and cropping.
  torch::manual_seed(4);
  UNet net(small_config());
  net->to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 4, 5, 6, 7}, torch::kFloat64);
  auto padded = torch::constant_pad_nd(x, {0, 1, 0, 2, 0, 3}, 0);
  auto expected = net->forward(padded).slice(2, 0, 5).slice(3, 0, 6).slice(4, 0, 7);
  EXPECT_LE(relative_error(net->forward(x), expected), 1e-14);
}

TEST(UNet, DeepSupervisionAddsOneHeadPerLowerDecoderLevel) {
  auto c = small_config();
  c.levels = 4;
  c.widths = {4, 8, 8, 8};
  c.encoder_couplings = {1, 1, 1, 1};
  c.decoder_couplings = {1, 1, 1};
  c.deep_supervision = true;
  torch::manual_seed(0);
  UNet net(c);
  torch::NoGradGuard no_grad;
  auto outputs = net->forward_deep(torch::randn({1, 4, 16, 18, 20}));
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].sizes(), (std::vector<int64_t>{1, 3, 16, 18, 20}));
  EXPECT_EQ(outputs[1].sizes(), (std::vector<int64_t>{1, 3, 8, 9, 10}));
  EXPECT_EQ(outputs[2].sizes(), (std::vector<int64_t>{1, 3, 4, 5, 5}));
  c.deep_supervision = false;
  EXPECT_EQ(UNet(c)->forward_deep(torch::randn({1, 4, 8, 8, 8})).size(), 1u);
}

TEST(UNet, StageModesComeFromTheConfigAndCanBeChangedOneAtATime) {
  auto c = small_config();
  c.mode = StackMode::kCheckpoint;
  c.stage_modes = {{"enc0", StackMode::kPlain}};
  UNet net(c);
  EXPECT_EQ(net->stage_names(), (std::vector<std::string>{"enc0", "enc1", "enc2", "dec1", "dec0"}));
  EXPECT_EQ(net->stage_mode("enc0"), StackMode::kPlain);
  EXPECT_EQ(net->stage_mode("dec0"), StackMode::kCheckpoint);
  net->set_stage_mode("dec1", StackMode::kReversible);
  EXPECT_EQ(net->stage_mode("dec1"), StackMode::kReversible);
  EXPECT_EQ(net->config().stage_mode("dec1"), StackMode::kReversible);
  net->set_mode(StackMode::kPlain);
  for (const auto& name : net->stage_names()) EXPECT_EQ(net->stage_mode(name), StackMode::kPlain);
  try {
    net->set_stage_mode("dec2", StackMode::kPlain);
    FAIL() << "an unknown stage was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stages are enc0, enc1, enc2, dec1, dec0"),
              std::string::npos)
        << e.what();
  }
}

TEST(UNet, CountParametersAddsUpEveryParameterElement) {
  torch::nn::Linear linear(3, 2);
  EXPECT_EQ(count_parameters(*linear), 8);
  UNet net(small_config());
  int64_t total = 0;
  for (const auto& p : net->parameters()) total += p.numel();
  EXPECT_EQ(count_parameters(*net), total);
}

// Measure on the plain ATen conv path: oneDNN allocates scratch through raw_allocate, which needs
// the tracking allocator's DataPtr context to be its data pointer (core/memory.cpp; fixed there
// separately), and its scratch sizes differ between LibTorch builds. Restored for later tests.
class MkldnnOff {
 public:
  MkldnnOff() : was_enabled_(at::globalContext().userEnabledMkldnn()) {
    at::globalContext().setUserEnabledMkldnn(false);
  }
  ~MkldnnOff() { at::globalContext().setUserEnabledMkldnn(was_enabled_); }

 private:
  bool was_enabled_;
};

// Peak CPU bytes of one forward + backward at kSize^3, above what parameters, their gradients and
// the input already hold (a warm-up step allocates the gradients first). Every activation scales
// with the voxel count, so the ratios hold at any size; 16^3 keeps the slow (non-oneDNN) CPU
// convolutions fast enough for the unit tests.
constexpr int64_t kSize = 16;

int64_t training_step_peak(int64_t couplings, StackMode mode) {
  core::CpuMemoryTracker::install();
  MkldnnOff mkldnn_off;
  UNetConfig c;
  c.levels = 3;
  c.widths = {8, 16, 32};
  c.encoder_couplings.assign(3, couplings);
  c.decoder_couplings.assign(2, couplings);
  c.expansion = 4;
  c.mode = mode;
  torch::manual_seed(0);
  UNet net(c);
  auto x = torch::randn({1, 4, kSize, kSize, kSize});
  auto target = torch::randn({1, 3, kSize, kSize, kSize});
  auto step = [&] { (net->forward(x) * target).sum().backward(); };
  step();
  core::PeakMemoryScope scope;
  step();
  const int64_t peak = scope.peak_above_baseline();
  EXPECT_EQ(scope.current_bytes(), scope.baseline_bytes()) << "a training step leaked memory";
  std::cout << "[ memory   ] " << kSize << "^3, widths 8/16/32, " << couplings
            << " couplings per stage, " << rev::to_string(mode) << ": peak " << peak << " bytes\n";
  return peak;
}

TEST(UNet, ReversibleStagesNeedAThirdOfPlainMemoryAtFourCouplings) {
  const int64_t plain = training_step_peak(4, StackMode::kPlain);
  const int64_t checkpoint = training_step_peak(4, StackMode::kCheckpoint);
  const int64_t reversible = training_step_peak(4, StackMode::kReversible);
  EXPECT_LE(3 * reversible, plain) << "reversible " << reversible << " vs plain " << plain;
  EXPECT_LT(checkpoint, plain);
  EXPECT_LE(reversible, checkpoint);
}

TEST(UNet, ReversiblePeakMemoryBarelyGrowsWithDepth) {
  const int64_t shallow = training_step_peak(1, StackMode::kReversible);
  const int64_t deep = training_step_peak(8, StackMode::kReversible);
  EXPECT_LE(deep, shallow * 105 / 100) << "1 coupling: " << shallow << ", 8 couplings: " << deep;
}

}  // namespace
}  // namespace revunet::nn

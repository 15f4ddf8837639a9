// The mobile inverted bottleneck used as F and G of a reversible coupling:
// 1x1x1 expand (ratio e) -> norm -> act -> depthwise k^3 -> norm -> act -> [squeeze-excitation]
// -> 1x1x1 project -> norm. Shape-preserving: `channels` in, `channels` out.
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "revunet/nn/layers.h"
#include "revunet/rev/coupling.h"
#include "revunet/rev/reversible_sequence.h"

namespace revunet::nn {

struct MBConvOptions {
  explicit MBConvOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, expansion) = 4;
  TORCH_ARG(int64_t, kernel_size) = 3;
  TORCH_ARG(NormKind, norm) = NormKind::kGroup;
  // Group norm's group count (reduced to a divisor of each layer's channels).
  TORCH_ARG(int64_t, groups) = 8;
  TORCH_ARG(ActivationKind, activation) = ActivationKind::kSiLU;
  TORCH_ARG(bool, squeeze_excitation) = false;
  // Squeeze-excitation bottleneck width as a fraction of `channels`.
  TORCH_ARG(double, se_ratio) = 0.25;
};

// Squeeze-excitation: channel weights from a global average, applied multiplicatively.
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t squeezed, ActivationKind activation);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential gate_;
};
TORCH_MODULE(SqueezeExcitation);

class MBConvImpl : public rev::CouplingFunctionImpl {
 public:
  explicit MBConvImpl(const MBConvOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  const MBConvOptions& options() const { return options_; }

 private:
  MBConvOptions options_;
  torch::nn::Sequential body_;
};
TORCH_MODULE(MBConv);

// A coupling whose F and G are MBConvs on half of `channels` (which must be even).
rev::AdditiveCoupling make_mbconv_coupling(int64_t channels, const MBConvOptions& options);

// `depth` MBConv couplings on `channels` channels, running in `mode`.
rev::ReversibleSequence make_mbconv_stack(int64_t channels, int64_t depth,
                                          const MBConvOptions& options, rev::StackMode mode);

}  // namespace revunet::nn

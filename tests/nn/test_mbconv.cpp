#include "revunet/nn/mbconv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "revunet/core/memory.h"

namespace revunet::nn {
namespace {

TEST(MBConv, KeepsTheShapeForEveryNormActivationAndKernel) {
  for (auto norm : {NormKind::kGroup, NormKind::kInstance}) {
    for (auto act : {ActivationKind::kSiLU, ActivationKind::kReLU6, ActivationKind::kLeakyReLU}) {
      for (int64_t k : {1, 3, 5}) {
        MBConv block(MBConvOptions(6).expansion(2).kernel_size(k).norm(norm).activation(act));
        auto x = torch::randn({2, 6, 5, 6, 7});
        EXPECT_EQ(block->forward(x).sizes(), x.sizes())
            << to_string(norm) << " " << to_string(act) << " k" << k;
      }
    }
  }
}

TEST(MBConv, HasTheExpandDepthwiseProjectStructure) {
  MBConv block(MBConvOptions(8).expansion(4).kernel_size(3));
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : block->named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  EXPECT_EQ(shapes["body.expand.weight"], (std::vector<int64_t>{32, 8, 1, 1, 1}));
  EXPECT_EQ(shapes["body.depthwise.weight"], (std::vector<int64_t>{32, 1, 3, 3, 3}));
  EXPECT_EQ(shapes["body.project.weight"], (std::vector<int64_t>{8, 32, 1, 1, 1}));
  EXPECT_TRUE(block->recompute_safe());
}

TEST(MBConv, SqueezeExcitationAddsAChannelGate) {
  MBConv plain(MBConvOptions(8));
  MBConv se(MBConvOptions(8).squeeze_excitation(true));
  EXPECT_GT(se->parameters().size(), plain->parameters().size());
  auto x = torch::randn({1, 8, 4, 4, 4});
  EXPECT_EQ(se->forward(x).sizes(), x.sizes());
}

TEST(MBConv, RejectsAnEvenKernelThatWouldChangeTheShape) {
  EXPECT_THROW(MBConv(MBConvOptions(4).kernel_size(2)), c10::Error);
}

TEST(MakeMBConvCoupling, RefusesAnOddChannelCount) {
  EXPECT_THROW(make_mbconv_coupling(7, MBConvOptions(1)), c10::Error);
}

TEST(MBConvStack, InverseRebuildsTheInputInDoublePrecision) {
  torch::manual_seed(0);
  auto stack = make_mbconv_stack(8, 4, MBConvOptions(4).expansion(2), rev::StackMode::kReversible);
  stack->to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 8, 5, 6, 7}, torch::kFloat64);
  EXPECT_LE((stack->inverse(stack->forward(x)) - x).abs().max().item<double>(), 1e-12);
}

TEST(MBConvStack, ReversibleGradientsMatchPlainForSeveralSeeds) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    torch::manual_seed(seed);
    auto stack = make_mbconv_stack(4, 2, MBConvOptions(2).expansion(2).squeeze_excitation(seed % 2),
                                   rev::StackMode::kPlain);
    stack->to(torch::kFloat64);
    auto x = torch::randn({2, 4, 5, 4, 3}, torch::kFloat64).requires_grad_(true);
    auto w = torch::randn({2, 4, 5, 4, 3}, torch::kFloat64);
    auto grads = [&] {
      std::vector<torch::Tensor> out{torch::autograd::grad({(stack->forward(x) * w).sum()}, {x})[0]};
      stack->zero_grad();
      (stack->forward(x) * w).sum().backward();
      for (auto& p : stack->parameters()) out.push_back(p.grad().clone());
      return out;
    };
    auto reference = grads();
    stack->set_mode(rev::StackMode::kReversible);
    auto tested = grads();
    for (size_t i = 0; i < reference.size(); ++i) {
      const double scale = reference[i].abs().max().item<double>() + 1e-300;
      EXPECT_LE((tested[i] - reference[i]).abs().max().item<double>() / scale, 1e-10)
          << "seed " << seed << " tensor " << i;
    }
  }
}

int64_t stack_peak(rev::StackMode mode, int64_t depth) {
  torch::manual_seed(0);
  auto stack = make_mbconv_stack(16, depth, MBConvOptions(8).expansion(4), mode);
  auto x = torch::randn({1, 16, 32, 32, 32}).requires_grad_(true);
  auto grad_out = torch::randn_like(x);
  stack->forward(x).backward(grad_out);  // parameter and input gradients exist from here on
  core::PeakMemoryScope scope;
  stack->forward(x).backward(grad_out);
  EXPECT_EQ(scope.current_bytes(), scope.baseline_bytes()) << "leak, depth " << depth;
  return scope.peak_above_baseline();
}

// The acceptance test: depth 1..16 at 32^3.
TEST(MBConvStackMemory, ReversiblePeakGrowsAtMostFivePercentFromDepthOneToSixteen) {
  core::CpuMemoryTracker::install();
  std::map<int64_t, int64_t> plain, checkpoint, reversible;
  for (int64_t depth : {1, 2, 4, 8, 16}) {
    plain[depth] = stack_peak(rev::StackMode::kPlain, depth);
    checkpoint[depth] = stack_peak(rev::StackMode::kCheckpoint, depth);
    reversible[depth] = stack_peak(rev::StackMode::kReversible, depth);
  }
  EXPECT_LE(reversible[16], 1.05 * reversible[1]) << reversible[1] << " -> " << reversible[16];
  EXPECT_GE(plain[16], 8 * plain[1]) << plain[1] << " -> " << plain[16];
  for (int64_t depth : {2, 4, 8, 16}) {
    EXPECT_LT(reversible[depth], checkpoint[depth]) << depth;
    EXPECT_LT(checkpoint[depth], plain[depth]) << depth;
  }
  EXPECT_LE(reversible[8] * 4, plain[8]);
}

}  // namespace
}  // namespace revunet::nn

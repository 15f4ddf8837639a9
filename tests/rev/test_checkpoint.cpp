#include "revunet/rev/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rev/rev_test_util.h"
#include "revunet/core/memory.h"

namespace revunet::rev {
namespace {

TEST(Checkpoint, GradientsOfInputAndParametersMatchPlainAutograd) {
  torch::manual_seed(0);
  auto fn = testing::conv_function(3);
  fn->to(torch::kFloat64);
  auto x = torch::randn({2, 3, 5, 6, 7}, torch::kFloat64);
  auto grad_out = torch::randn_like(x);
  auto plain = testing::run_backward(*fn, [&](const torch::Tensor& in) { return fn->forward(in); },
                                     x, grad_out);
  auto ckpt = testing::run_backward(
      *fn,
      [&](const torch::Tensor& in) {
        return checkpoint([&](const at::Tensor& t) { return fn->forward(t); }, in,
                          fn->parameters());
      },
      x, grad_out);
  EXPECT_LE(testing::relative_error(ckpt.input_grad, plain.input_grad), 1e-12);
  for (size_t i = 0; i < plain.param_grads.size(); ++i) {
    EXPECT_LE(testing::relative_error(ckpt.param_grads[i], plain.param_grads[i]), 1e-12) << i;
  }
}

TEST(Checkpoint, StoresOnlyTheInputDuringForward) {
  core::CpuMemoryTracker::install();
  torch::manual_seed(0);
  auto fn = testing::conv_function(4);
  auto x = torch::randn({1, 4, 16, 16, 16}).requires_grad_(true);
  auto run = [&](bool use_checkpoint) {
    const int64_t before = core::CpuMemoryTracker::current_bytes();
    auto y = use_checkpoint
                 ? checkpoint([&](const at::Tensor& t) { return fn->forward(t); }, x,
                              fn->parameters())
                 : fn->forward(x);
    return core::CpuMemoryTracker::current_bytes() - before;  // output + what the graph holds
  };
  const int64_t output_bytes = x.numel() * 4;
  EXPECT_EQ(run(true), output_bytes);
  EXPECT_GT(run(false), 3 * output_bytes);
}

TEST(Checkpoint, WithoutAnythingToDifferentiateItIsAPlainCall) {
  auto fn = testing::conv_function(2);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 2, 4, 4, 4});
  auto y = checkpoint([&](const at::Tensor& t) { return fn->forward(t); }, x, fn->parameters());
  EXPECT_FALSE(y.requires_grad());
}

}  // namespace
}  // namespace revunet::rev

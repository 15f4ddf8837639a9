#include "revunet/rev/coupling.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rev/rev_test_util.h"

namespace revunet::rev {
namespace {

using testing::conv_function;

TEST(AdditiveCoupling, InverseReturnsTheInputInDoublePrecision) {
  for (uint64_t seed : {0, 1, 2}) {
    torch::manual_seed(seed);
    AdditiveCoupling c(conv_function(3), conv_function(3));
    c->to(torch::kFloat64);
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, 6, 5, 7, 9}, torch::kFloat64);
    auto back = c->inverse(c->forward(x));
    EXPECT_LE((back - x).abs().max().item<double>(), 1e-12) << "seed " << seed;
  }
}

TEST(AdditiveCoupling, ComputesTheCouplingEquations) {
  torch::manual_seed(3);
  AdditiveCoupling c(conv_function(2), conv_function(2));
  c->to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 4, 4, 4, 4}, torch::kFloat64);
  auto x1 = x.narrow(1, 0, 2), x2 = x.narrow(1, 2, 2);
  auto y1 = x1 + c->f()->forward(x2);
  auto y2 = x2 + c->g()->forward(y1);
  EXPECT_TRUE(torch::allclose(c->forward(x), torch::cat({y1, y2}, 1)));
}

TEST(AdditiveCoupling, RejectsAnOddChannelCountWithAClearMessage) {
  AdditiveCoupling c(conv_function(1), conv_function(1));
  try {
    c->forward(torch::randn({1, 3, 4, 4, 4}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("odd"), std::string::npos) << e.what();
  }
}

// A function that halves the spatial size: not allowed inside a coupling.
struct ShrinkingFunction : CouplingFunctionImpl {
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::avg_pool3d(x, {2, 2, 2});
  }
};

TEST(AdditiveCoupling, RejectsAShapeChangingFunction) {
  AdditiveCoupling c(std::make_shared<ShrinkingFunction>(), conv_function(2));
  try {
    c->forward(torch::randn({1, 4, 4, 4, 4}));
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("must keep its input's shape"), std::string::npos)
        << e.what();
  }
}

TEST(RecomputeHazard, FindsBatchNormAndDropoutButNotGroupNorm) {
  namespace tnn = torch::nn;
  SequentialFunctionImpl safe(tnn::Sequential(tnn::GroupNorm(1, 2)));
  EXPECT_TRUE(safe.recompute_safe());
  SequentialFunctionImpl bn(tnn::Sequential(tnn::BatchNorm3d(2)));
  EXPECT_FALSE(bn.recompute_safe());
  EXPECT_NE(first_recompute_hazard(bn).find("BatchNorm3d"), std::string::npos);
  SequentialFunctionImpl drop(tnn::Sequential(tnn::Dropout(0.5)));
  EXPECT_FALSE(drop.recompute_safe());
  drop.eval();  // dropout is inert in evaluation mode
  EXPECT_TRUE(drop.recompute_safe());
}

}  // namespace
}  // namespace revunet::rev

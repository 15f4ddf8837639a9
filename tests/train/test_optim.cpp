#include "revunet/train/optim.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "revunet/core/error.h"

namespace revunet::train {
namespace {

TEST(LrSchedule, WarmsUpLinearlyThenDecaysPolyToTheFloor) {
  LrScheduleOptions o;
  o.base_lr = 1e-2;
  o.warmup_iterations = 4;
  o.total_iterations = 104;
  o.floor = 1e-4;
  const LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.at(0), 0.25e-2);
  EXPECT_DOUBLE_EQ(s.at(3), 1e-2);
  EXPECT_DOUBLE_EQ(s.at(4), 1e-2);  // decay starts at t = 0
  EXPECT_NEAR(s.at(54), 1e-4 + (1e-2 - 1e-4) * std::pow(0.5, 0.9), 1e-15);
  EXPECT_DOUBLE_EQ(s.at(104), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(500), 1e-4);
  for (int64_t i = 5; i < 104; ++i) EXPECT_LT(s.at(i), s.at(i - 1)) << i;
}

TEST(LrSchedule, CosineIsHalfWayAtTheMiddle) {
  LrScheduleOptions o;
  o.base_lr = 1.0;
  o.total_iterations = 100;
  o.decay = DecayKind::kCosine;
  o.floor = 0.1;
  const LrSchedule s(o);
  EXPECT_DOUBLE_EQ(s.at(0), 1.0);
  EXPECT_NEAR(s.at(50), 0.55, 1e-12);
  EXPECT_NEAR(s.at(99), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.99)), 1e-12);
}

TEST(LrSchedule, IsAPureFunctionOfTheIteration) {
  LrScheduleOptions o;
  o.warmup_iterations = 10;
  o.total_iterations = 50;
  const LrSchedule a(o), b(o);
  for (int64_t i : {37, 3, 12, 37, 0}) EXPECT_EQ(a.at(i), b.at(i));
}

TEST(Optimizer, FactoryBuildsAdamWAndNesterovSgdAndSetsTheRate) {
  torch::Tensor w = torch::zeros({3}, torch::requires_grad());
  OptimizerOptions o;
  auto adamw = make_optimizer({w}, o);
  EXPECT_NE(dynamic_cast<torch::optim::AdamW*>(adamw.get()), nullptr);
  o.kind = parse_optimizer_kind("sgd");
  auto sgd = make_optimizer({w}, o);
  auto* as_sgd = dynamic_cast<torch::optim::SGD*>(sgd.get());
  ASSERT_NE(as_sgd, nullptr);
  EXPECT_TRUE(
      static_cast<torch::optim::SGDOptions&>(as_sgd->param_groups()[0].options()).nesterov());
  set_learning_rate(*sgd, 0.125);
  EXPECT_EQ(learning_rate(*sgd), 0.125);
  EXPECT_THROW(parse_optimizer_kind("adam-ish"), revunet::Error);
}

TEST(GradientClipping, ScalesToTheMaxNormAndReportsTheNormBefore) {
  torch::Tensor a = torch::zeros({2}, torch::requires_grad());
  torch::Tensor b = torch::zeros({1}, torch::requires_grad());
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  EXPECT_NEAR(clip_grad_norm({a, b}, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-5);
  // Below the limit, and with clipping off: untouched.
  EXPECT_NEAR(clip_grad_norm({a, b}, 10.0), 1.0, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-5);
  EXPECT_NEAR(clip_grad_norm({a, b}, 0.0), 1.0, 1e-5);
}

TEST(GradientAccumulation, FourMicroBatchesEqualOneBigBatchForALinearModel) {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({8, 5});
  const torch::Tensor y = torch::randn({8, 2});
  torch::nn::Linear big(5, 2), small(5, 2);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < big->parameters().size(); ++i) {
      small->parameters()[i].copy_(big->parameters()[i]);
    }
  }
  OptimizerOptions o;
  o.kind = OptimizerKind::kSgd;
  o.lr = 0.1;
  auto opt_big = make_optimizer(big->parameters(), o);
  auto opt_small = make_optimizer(small->parameters(), o);
  for (int step = 0; step < 3; ++step) {
    const StepResult one = accumulated_step(*opt_big, big->parameters(), 1, 0.5,
                                            [&](int64_t) { return (big(x) - y).pow(2).mean(); });
    const StepResult four =
        accumulated_step(*opt_small, small->parameters(), 4, 0.5, [&](int64_t k) {
          return (small(x.slice(0, 2 * k, 2 * k + 2)) - y.slice(0, 2 * k, 2 * k + 2)).pow(2).mean();
        });
    EXPECT_TRUE(one.stepped && four.stepped);
    EXPECT_NEAR(one.loss, four.loss, 1e-6);
    EXPECT_NEAR(one.grad_norm, four.grad_norm, 1e-5);
  }
  for (size_t i = 0; i < big->parameters().size(); ++i) {
    EXPECT_TRUE(torch::allclose(big->parameters()[i], small->parameters()[i], 1e-5, 1e-6));
  }
}

TEST(GradientAccumulation, SkipsTheStepWhenTheGradientIsNotFinite) {
  torch::Tensor w = torch::ones({2}, torch::requires_grad());
  auto opt = make_optimizer({w}, OptimizerOptions{});
  const StepResult r = accumulated_step(*opt, {w}, 1, 1.0, [&](int64_t) {
    return (w * std::numeric_limits<float>::infinity()).sum();
  });
  EXPECT_FALSE(r.stepped);
  EXPECT_TRUE(torch::equal(w, torch::ones({2})));
}

}  // namespace
}  // namespace revunet::train

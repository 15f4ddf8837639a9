#include "revunet/rev/reversible_sequence.h"

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <map>
#include <sstream>

#include "rev/rev_test_util.h"
#include "revunet/core/compat.h"
#include "revunet/core/error.h"
#include "revunet/core/memory.h"

namespace revunet::rev {
namespace {

using testing::conv_stack;
using testing::relative_error;
using testing::run_backward;

struct Shape {
  int64_t batch, channels, x, y, z;
};

// Gradients of `mode` against plain autograd on the same weights, float64.
void expect_same_gradients_as_plain(StackMode mode, uint64_t seed, Shape s, int64_t depth) {
  torch::manual_seed(seed);
  auto stack = conv_stack(s.channels, depth, StackMode::kPlain);
  stack->to(torch::kFloat64);
  auto x = torch::randn({s.batch, s.channels, s.x, s.y, s.z}, torch::kFloat64);
  auto grad_out = torch::randn_like(x);
  auto fwd = [&](const torch::Tensor& in) { return stack->forward(in); };

  auto reference = run_backward(*stack, fwd, x, grad_out);
  stack->set_mode(mode);
  auto tested = run_backward(*stack, fwd, x, grad_out);

  const std::string what = to_string(mode) + " seed " + std::to_string(seed);
  EXPECT_LE(relative_error(tested.output, reference.output), 1e-12) << what;
  EXPECT_LE(relative_error(tested.input_grad, reference.input_grad), 1e-10) << what;
  ASSERT_EQ(tested.param_grads.size(), reference.param_grads.size());
  double largest = 0;
  for (const auto& g : reference.param_grads)
    largest = std::max(largest, g.abs().max().item<double>());
  for (size_t i = 0; i < reference.param_grads.size(); ++i) {
    EXPECT_LE(relative_error(tested.param_grads[i], reference.param_grads[i], 1e-6 * largest),
              1e-10)
        << what << " parameter " << i;
  }
}

TEST(ReversibleSequence, GradientsMatchPlainAutogradInDoublePrecision) {
  const Shape shapes[] = {{1, 4, 6, 6, 6}, {2, 6, 5, 7, 3}, {2, 8, 9, 4, 5}};
  for (uint64_t seed = 0; seed < 5; ++seed) {
    for (const auto& s : shapes) expect_same_gradients_as_plain(StackMode::kReversible, seed, s, 3);
  }
}

TEST(ReversibleSequence, CheckpointModeGradientsMatchPlainAutograd) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    expect_same_gradients_as_plain(StackMode::kCheckpoint, seed, {2, 6, 5, 7, 3}, 3);
  }
}

TEST(ReversibleSequence, InverseRebuildsTheInputOfADeepStack) {
  torch::manual_seed(11);
  auto stack = conv_stack(4, 8, StackMode::kReversible);
  stack->to(torch::kFloat64);
  auto x = torch::randn({1, 4, 6, 6, 6}, torch::kFloat64);
  torch::NoGradGuard no_grad;
  EXPECT_LE((stack->inverse(stack->forward(x)) - x).abs().max().item<double>(), 1e-12);
}

TEST(ReversibleSequence, TheSameWeightsGiveTheSameOutputInEveryMode) {
  torch::manual_seed(5);
  auto stack = conv_stack(4, 3, StackMode::kPlain);
  auto x = torch::randn({1, 4, 5, 5, 5}).requires_grad_(true);
  auto plain = stack->forward(x);
  for (auto mode : {StackMode::kCheckpoint, StackMode::kReversible}) {
    stack->set_mode(mode);
    EXPECT_TRUE(torch::equal(stack->forward(x), plain)) << to_string(mode);
  }
}

TEST(ReversibleSequence, OnlyParametersThatRequireGradReceiveGradients) {
  torch::manual_seed(2);
  auto stack = conv_stack(4, 2, StackMode::kReversible);
  auto frozen = stack->couplings()[0]->f()->parameters();
  for (auto& p : frozen) p.requires_grad_(false);
  auto x = torch::randn({1, 4, 4, 4, 4}).requires_grad_(true);
  stack->forward(x).sum().backward();
  for (auto& p : frozen) EXPECT_FALSE(p.grad().defined());
  for (auto& p : stack->couplings()[1]->parameters()) EXPECT_TRUE(p.grad().defined());
  EXPECT_TRUE(x.grad().defined());
}

TEST(ReversibleSequence, InputWithoutGradStillTrainsTheParameters) {
  torch::manual_seed(4);
  auto stack = conv_stack(4, 2, StackMode::kReversible);
  stack->forward(torch::randn({1, 4, 4, 4, 4})).sum().backward();
  for (auto& p : stack->parameters()) EXPECT_TRUE(p.grad().defined());
}

TEST(ReversibleSequence, RefusesAnOutputModifiedInPlaceBeforeBackward) {
  torch::manual_seed(1);
  auto stack = conv_stack(4, 2, StackMode::kReversible);
  auto x = torch::randn({1, 4, 4, 4, 4}).requires_grad_(true);
  auto y = stack->forward(x);
  auto z = y * 2;  // keeps the graph alive through y's grad_fn
  y.detach().add_(1);
  try {
    z.sum().backward();
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("modified in place"), std::string::npos) << e.what();
  }
}

TEST(ReversibleSequence, ASecondBackwardIsAClearErrorNotACrash) {
  torch::manual_seed(1);
  auto stack = conv_stack(4, 2, StackMode::kReversible);
  auto x = torch::randn({1, 4, 4, 4, 4}).requires_grad_(true);
  auto y = stack->forward(x);
  y.sum().backward({}, /*retain_graph=*/true);
  try {
    y.sum().backward();
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
}

TEST(ReversibleSequence, RefusesBatchNormInsideAReversibleStackWhileTraining) {
  namespace tnn = torch::nn;
  auto bn = [] {
    return std::make_shared<SequentialFunctionImpl>(tnn::Sequential(tnn::BatchNorm3d(2)));
  };
  ReversibleSequence stack(StackMode::kReversible);
  stack->push_back(AdditiveCoupling(bn(), bn()));
  auto x = torch::randn({2, 4, 3, 3, 3});
  try {
    stack->forward(x);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("stateful layer"), std::string::npos) << e.what();
  }
  stack->set_mode(StackMode::kPlain);
  EXPECT_NO_THROW(stack->forward(x));
}

TEST(ParseStackMode, NamesTheBadValue) {
  EXPECT_EQ(parse_stack_mode("checkpoint"), StackMode::kCheckpoint);
  try {
    parse_stack_mode("reverse");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'reverse'"), std::string::npos) << e.what();
  }
}

// Records the autocast state each time it runs, to see what the recompute ran under.
struct AutocastProbe : CouplingFunctionImpl {
  explicit AutocastProbe(int64_t channels)
      : conv(register_module("conv",
                             torch::nn::Conv3d(torch::nn::Conv3dOptions(channels, channels, 1)))) {}
  torch::Tensor forward(const torch::Tensor& x) override {
    seen.push_back(compat::AutocastState::current().cpu_enabled);
    return conv->forward(x);
  }
  torch::nn::Conv3d conv;
  std::vector<bool> seen;
};

TEST(ReversibleSequence, RecomputeReplaysTheForwardsAutocastState) {
  auto f = std::make_shared<AutocastProbe>(2);
  auto g = std::make_shared<AutocastProbe>(2);
  ReversibleSequence stack(StackMode::kReversible);
  stack->push_back(AdditiveCoupling(f, g));
  auto x = torch::randn({1, 4, 4, 4, 4}).requires_grad_(true);
  torch::Tensor y;
  {
    compat::AutocastState bf16;
    bf16.cpu_enabled = true;
    bf16.cpu_dtype = torch::kBFloat16;
    compat::AutocastGuard autocast(bf16);
    y = stack->forward(x);
  }
  // x1 (float32) + F(x2) (bfloat16 under autocast) promotes the output back to float32.
  y.sum().backward();  // backward runs outside the autocast scope
  ASSERT_EQ(f->seen.size(), 2u);
  EXPECT_TRUE(f->seen[0] && f->seen[1]);
  EXPECT_TRUE(g->seen[0] && g->seen[1]);
  EXPECT_FALSE(compat::AutocastState::current().cpu_enabled);
  EXPECT_TRUE(x.grad().defined());
}

// ---- memory (tracking allocator): activation bytes of one forward + backward ----

struct MemoryProbe {
  int64_t peak = 0;
  int64_t leaked = 0;
};

// `bf16`: the forward runs under CPU bfloat16 autocast (the backward, as in training, outside).
MemoryProbe measure_stack(ReversibleSequence stack, bool bf16 = false, int64_t edge = 24) {
  auto x = torch::randn({1, 8, edge, edge, edge}).requires_grad_(true);
  auto grad_out = torch::randn_like(x);
  compat::AutocastState autocast;
  autocast.cpu_enabled = bf16;
  autocast.cpu_dtype = torch::kBFloat16;
  auto forward = [&] {
    compat::AutocastGuard guard(autocast);
    return stack->forward(x);
  };
  forward().backward(grad_out);  // allocates parameter and input gradients
  core::PeakMemoryScope scope;
  forward().backward(grad_out);
  return {scope.peak_above_baseline(), scope.current_bytes() - scope.baseline_bytes()};
}

MemoryProbe measure(StackMode mode, int64_t depth) {
  torch::manual_seed(0);
  return measure_stack(conv_stack(8, depth, mode, /*kernel=*/1));
}

TEST(ReversibleSequenceMemory, ReversiblePeakIsFlatInDepthWhilePlainGrowsLinearly) {
  core::CpuMemoryTracker::install();
  std::map<int64_t, MemoryProbe> plain, checkpoint, reversible;
  for (int64_t depth : {1, 2, 4, 8, 16}) {
    plain[depth] = measure(StackMode::kPlain, depth);
    checkpoint[depth] = measure(StackMode::kCheckpoint, depth);
    reversible[depth] = measure(StackMode::kReversible, depth);
    EXPECT_EQ(plain[depth].leaked, 0) << "depth " << depth;
    EXPECT_EQ(checkpoint[depth].leaked, 0) << "depth " << depth;
    EXPECT_EQ(reversible[depth].leaked, 0) << "depth " << depth;
  }
  std::ostringstream table;
  for (const auto& [depth, p] : plain) {
    table << "depth " << depth << ": plain " << p.peak << " checkpoint " << checkpoint[depth].peak
          << " reversible " << reversible[depth].peak << "\n";
  }
  EXPECT_LE(reversible[16].peak, 1.05 * reversible[1].peak) << table.str();
  // Plain stores every coupling: each doubling of depth adds at least as much as the one before.
  EXPECT_GE(plain[16].peak - plain[8].peak, 0.95 * (plain[8].peak - plain[4].peak));
  EXPECT_GE(plain[16].peak, 8 * plain[1].peak);
  // Checkpoint keeps one input per coupling: between the two.
  EXPECT_GT(checkpoint[16].peak, reversible[16].peak);
  EXPECT_LT(checkpoint[16].peak, plain[16].peak);
  EXPECT_LE(reversible[8].peak, plain[8].peak / 4);
}

// Autocast caches the low-precision copy of every float leaf that requires grad until its scope
// ends. The recompute's rebuilt inputs are such leaves: cached, they would keep one copy per
// coupling alive through the stack's whole backward (seen on the H100: +35 % from 1 to 16
// couplings in bf16, flat in fp32).
TEST(ReversibleSequenceMemory, ReversiblePeakIsFlatInDepthUnderAutocast) {
  core::CpuMemoryTracker::install();
  // Without group norm: LibTorch 1.13's CPU autocast runs it in bf16 against float32 weights.
  auto stack_of = [](int64_t depth) {
    namespace tnn = torch::nn;
    auto function = [] {
      return std::make_shared<SequentialFunctionImpl>(
          tnn::Sequential(tnn::Conv3d(tnn::Conv3dOptions(4, 16, 1)), tnn::SiLU(),
                          tnn::Conv3d(tnn::Conv3dOptions(16, 4, 1))));
    };
    torch::manual_seed(0);
    ReversibleSequence stack(StackMode::kReversible);
    for (int64_t i = 0; i < depth; ++i) stack->push_back(AdditiveCoupling(function(), function()));
    return stack;
  };
  // From depth 2 on (depth 1 skips rebuilding the first input, so it needs one half less).
  const MemoryProbe shallow = measure_stack(stack_of(2), /*bf16=*/true, /*edge=*/40);
  const MemoryProbe deep = measure_stack(stack_of(16), /*bf16=*/true, /*edge=*/40);
  EXPECT_EQ(deep.leaked, 0);
  EXPECT_LE(deep.peak, 1.01 * shallow.peak) << "depth 2: " << shallow.peak << ", 16: " << deep.peak;
}

TEST(ReversibleSequenceMemory, AnOutputThatIsNeverBackpropagatedLeaksNothing) {
  core::CpuMemoryTracker::install();
  torch::manual_seed(0);
  auto stack = conv_stack(4, 4, StackMode::kReversible);
  auto x = torch::randn({1, 4, 8, 8, 8}).requires_grad_(true);
  const int64_t before = core::CpuMemoryTracker::current_bytes();
  { auto y = stack->forward(x); }
  EXPECT_EQ(core::CpuMemoryTracker::current_bytes(), before);
  {
    auto y = stack->forward(x);
    y.sum().backward();
    x.mutable_grad() = torch::Tensor();
    for (auto& p : stack->parameters()) p.mutable_grad() = torch::Tensor();
  }
  EXPECT_EQ(core::CpuMemoryTracker::current_bytes(), before);
}

}  // namespace
}  // namespace revunet::rev

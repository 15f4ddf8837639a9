#include "revunet/nn/layers.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "revunet/core/error.h"

namespace revunet::nn {
namespace {

TEST(GroupCount, PicksTheLargestDivisorNotAboveTheRequest) {
  EXPECT_EQ(group_count(32, 8), 8);
  EXPECT_EQ(group_count(12, 8), 6);
  EXPECT_EQ(group_count(7, 8), 7);
  EXPECT_EQ(group_count(14, 8), 7);
  EXPECT_EQ(group_count(4, 1), 1);
}

TEST(ParseNormAndActivation, RoundTripNamesAndRejectTypos) {
  for (auto k : {NormKind::kGroup, NormKind::kInstance}) EXPECT_EQ(parse_norm(to_string(k)), k);
  for (auto a : {ActivationKind::kSiLU, ActivationKind::kReLU6, ActivationKind::kLeakyReLU}) {
    EXPECT_EQ(parse_activation(to_string(a)), a);
  }
  EXPECT_THROW(parse_norm("batch"), Error);
  EXPECT_THROW(parse_activation("gelu"), Error);
}

TEST(MakeNorm, InstanceNormKeepsNoRunningStatistics) {
  auto norm = make_norm(NormKind::kInstance, 4, 8);
  auto x = torch::randn({2, 4, 3, 3, 3});
  EXPECT_EQ(norm.forward(x).sizes(), x.sizes());
  EXPECT_TRUE(norm.ptr()->buffers().empty());
}

}  // namespace
}  // namespace revunet::nn

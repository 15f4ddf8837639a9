#include "revunet/core/memory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace revunet::core {
namespace {

constexpr int64_t kMiB = 1 << 20;

TEST(CpuMemoryTracker, CountsEveryLiveTensorByItsBytes) {
  CpuMemoryTracker::install();
  const int64_t before = CpuMemoryTracker::current_bytes();
  {
    auto t = torch::empty({kMiB}, torch::kFloat32);
    EXPECT_EQ(CpuMemoryTracker::current_bytes() - before, 4 * kMiB);
    auto u = torch::empty({kMiB / 2}, torch::kFloat64);
    EXPECT_EQ(CpuMemoryTracker::current_bytes() - before, 8 * kMiB);
  }
  EXPECT_EQ(CpuMemoryTracker::current_bytes(), before);
}

TEST(PeakMemoryScope, SeesATemporaryThatIsAlreadyFreed) {
  PeakMemoryScope scope;
  { auto t = torch::ones({kMiB}, torch::kFloat32) * 2; }  // two 4 MiB buffers at once
  EXPECT_GE(scope.peak_above_baseline(), 8 * kMiB);
  EXPECT_LT(scope.peak_above_baseline(), 9 * kMiB);
  EXPECT_EQ(scope.current_bytes(), scope.baseline_bytes());
}

TEST(PeakMemoryScope, NestedScopeDoesNotHideItsPeakFromTheOuterScope) {
  PeakMemoryScope outer;
  { auto big = torch::empty({4 * kMiB}, torch::kFloat32); }  // 16 MiB, freed before inner
  int64_t inner_peak = 0;
  {
    PeakMemoryScope inner;
    { auto small = torch::empty({kMiB}, torch::kFloat32); }
    inner_peak = inner.peak_above_baseline();
  }
  EXPECT_EQ(inner_peak, 4 * kMiB);
  EXPECT_GE(outer.peak_above_baseline(), 16 * kMiB);
}

TEST(PeakMemoryScope, ResetsBetweenScopes) {
  {
    PeakMemoryScope first;
    auto big = torch::empty({8 * kMiB}, torch::kFloat32);
  }
  PeakMemoryScope second;
  auto small = torch::empty({kMiB}, torch::kFloat32);
  EXPECT_EQ(second.peak_above_baseline(), 4 * kMiB);
}

TEST(CurrentBytes, OnCudaNeedsACudaBuildAndOtherwiseReportsZero) {
  if (REVUNET_WITH_CUDA) GTEST_SKIP() << "CUDA build: covered by the GPU benchmarks";
  EXPECT_EQ(current_bytes(c10::Device(c10::kCUDA, 0)), 0);
}

}  // namespace
}  // namespace revunet::core

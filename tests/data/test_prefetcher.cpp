#include "revunet/data/prefetcher.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

namespace revunet::data {
namespace {

using namespace std::chrono_literals;

Batch numbered(uint64_t i) {
  return Batch{torch::full({1}, static_cast<double>(i)), torch::Tensor()};
}

int64_t number(const Batch& b) {
  return static_cast<int64_t>(b.image.item<double>());
}

// Runs `f` on a detached thread and reports whether it finished within `limit`, so a hang fails
// the test instead of stalling the whole suite.
bool finishes_within(std::function<void()> f, std::chrono::milliseconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([f = std::move(f), done] {
    f();
    done->set_value();
  }).detach();
  return finished.wait_for(limit) == std::future_status::ready;
}

TEST(BatchPrefetcher, DeliversBatchesInIndexOrderWithSeveralThreads) {
  PrefetchOptions o;
  o.threads = 3;
  o.capacity = 5;
  BatchPrefetcher prefetcher(
      [](uint64_t i) {
        // Later indices often finish first.
        std::this_thread::sleep_for(std::chrono::milliseconds((7 * i) % 5));
        return numbered(i);
      },
      o);
  for (int64_t i = 0; i < 30; ++i) {
    EXPECT_EQ(prefetcher.next_index(), static_cast<uint64_t>(i));
    EXPECT_EQ(number(prefetcher.next()), i);
  }
}

TEST(BatchPrefetcher, GivesTheSamplerSequenceWhateverTheThreadCount) {
  auto c = std::make_shared<PreprocessedCase>();
  torch::manual_seed(0);
  c->image = torch::rand({4, 12, 12, 12});
  c->regions = torch::zeros({3, 12, 12, 12}, torch::kUInt8);
  c->regions.slice(1, 4, 6).fill_(1);
  PatchSamplerOptions so;
  so.patch = {8, 8, 8};
  so.seed = 3;
  const PatchSampler sampler({c}, so);
  auto make = [&sampler](uint64_t i) { return sampler.batch_at(i); };
  PrefetchOptions one, three;
  three.threads = 3;
  three.capacity = 2;
  BatchPrefetcher a(make, one), b(make, three);
  for (uint64_t i = 0; i < 12; ++i) {
    const Batch x = a.next(), y = b.next(), expected = sampler.batch_at(i);
    EXPECT_TRUE(torch::equal(x.image, expected.image) && torch::equal(x.target, expected.target));
    EXPECT_TRUE(torch::equal(y.image, expected.image) && torch::equal(y.target, expected.target));
  }
}

TEST(BatchPrefetcher, TrainingBatchesAreSampledThenAugmentedPerIndex) {
  auto c = std::make_shared<PreprocessedCase>();
  torch::manual_seed(1);
  c->image = torch::rand({4, 10, 10, 10}) + 1;
  c->regions = torch::zeros({3, 10, 10, 10}, torch::kUInt8);
  c->regions.slice(1, 2, 5).fill_(1);
  PatchSamplerOptions so;
  so.patch = {8, 8, 8};
  const PatchSampler sampler({c}, so);
  AugmentOptions ao;
  ao.rotation_probability = 0.5;
  const Augmenter augmenter(ao, 9);
  PrefetchOptions o;
  o.threads = 2;
  o.first_index = 4;
  BatchPrefetcher prefetcher(training_batches(sampler, &augmenter), o);
  for (uint64_t i = 4; i < 10; ++i) {
    const Batch expected = augmenter.apply_at(sampler.batch_at(i), i);
    const Batch got = prefetcher.next();
    EXPECT_TRUE(torch::equal(got.image, expected.image)) << "batch " << i;
    EXPECT_TRUE(torch::equal(got.target, expected.target)) << "batch " << i;
  }
  const Batch plain = training_batches(sampler, nullptr)(3);
  EXPECT_TRUE(torch::equal(plain.image, sampler.batch_at(3).image));
}

TEST(BatchPrefetcher, StartsAtTheFirstIndexWhenResuming) {
  PrefetchOptions o;
  o.first_index = 7;
  BatchPrefetcher prefetcher(numbered, o);
  EXPECT_EQ(number(prefetcher.next()), 7);
  EXPECT_EQ(number(prefetcher.next()), 8);
}

TEST(BatchPrefetcher, RunsAStatefulProducerInOrder) {
  int64_t counter = 0;  // touched by the single producer thread only
  BatchPrefetcher prefetcher([&counter] { return numbered(static_cast<uint64_t>(counter++)); }, 2);
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(number(prefetcher.next()), i);
}

TEST(BatchPrefetcher, RethrowsTheProducersExceptionAtItsIndex) {
  PrefetchOptions o;
  o.threads = 2;
  BatchPrefetcher prefetcher(
      [](uint64_t i) {
        if (i == 3) throw std::runtime_error("case 3 is unreadable");
        return numbered(i);
      },
      o);
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(number(prefetcher.next()), i);
  for (int repeat = 0; repeat < 2; ++repeat) {
    try {
      prefetcher.next();
      FAIL() << "expected the producer's exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "case 3 is unreadable");
    }
  }
}

TEST(BatchPrefetcher, DestructionWhileProducersWaitForRoomDoesNotHang) {
  std::atomic<int64_t> made{0};
  const bool finished = finishes_within(
      [&made] {
        PrefetchOptions o;
        o.threads = 2;
        o.capacity = 2;
        BatchPrefetcher prefetcher(
            [&made](uint64_t i) {
              ++made;
              return numbered(i);
            },
            o);
        prefetcher.next();
        std::this_thread::sleep_for(50ms);  // the producers fill the queue and block
      },
      10s);
  ASSERT_TRUE(finished) << "the destructor hung";
  EXPECT_LE(made.load(), 3);  // the queue bound held: one consumed plus two ahead
}

TEST(BatchPrefetcher, DestructionWaitsOnlyForTheBatchInProgress) {
  const auto start = std::chrono::steady_clock::now();
  const bool finished = finishes_within(
      [] {
        BatchPrefetcher prefetcher(
            [](uint64_t i) {
              std::this_thread::sleep_for(100ms);
              return numbered(i);
            },
            PrefetchOptions{});
        std::this_thread::sleep_for(20ms);  // destroyed with nothing consumed
      },
      10s);
  ASSERT_TRUE(finished) << "the destructor hung";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(BatchPrefetcher, RejectsBadOptions) {
  PrefetchOptions o;
  o.capacity = 0;
  EXPECT_THROW({ BatchPrefetcher prefetcher(numbered, o); }, c10::Error);
}

}  // namespace
}  // namespace revunet::data

// Prepares batches on background threads while the consumer trains on the previous one.
// Batches come out in index order whatever the number of threads: each index is produced by a
// function of the index alone (e.g. PatchSampler::batch_at, whose seed is derived from it), so the
// sequence is the same for 1 or N threads. A producer exception is re-thrown by next() at the
// index where it happened. The destructor stops and joins the threads without waiting for the
// queue to drain.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "revunet/data/augment.h"
#include "revunet/data/patch_sampler.h"

namespace revunet::data {

struct PrefetchOptions {
  // Batches produced ahead of the consumer (finished or in progress), at most.
  int64_t capacity = 4;
  int64_t threads = 1;
  // The index of the first batch next() returns (resume after `first_index` batches).
  uint64_t first_index = 0;
};

// Batch i = augmenter->apply_at(sampler.batch_at(i), i) (no augmentation if `augmenter` is null):
// thread-safe and a function of i alone, so any number of prefetch threads gives the same
// sequence, and resuming at batch i needs only i. Both objects must outlive the function.
std::function<Batch(uint64_t)> training_batches(const PatchSampler& sampler,
                                                const Augmenter* augmenter);

// Producer threads run without autograd and with LibTorch's process-wide intra-op thread count
// (at::init_num_threads), as LibTorch's own worker threads do.
class BatchPrefetcher {
 public:
  // Batch `i` is make(i); make must be safe to call from several threads at once if
  // options.threads > 1.
  BatchPrefetcher(std::function<Batch(uint64_t)> make, PrefetchOptions options = {});
  // A stateful producer (e.g. [&] { return sampler.next(); }): called from one thread, in order.
  BatchPrefetcher(std::function<Batch()> make, int64_t capacity = 4);
  ~BatchPrefetcher();

  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch, in index order; blocks until it is ready. Re-throws the producer's exception
  // for that index (and on every later call: the producers stop after a failure).
  Batch next();

  // The index of the batch the next call to next() returns.
  uint64_t next_index() const;

 private:
  void work();

  std::function<Batch(uint64_t)> make_;
  PrefetchOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable space_;  // producers wait here for room ahead of the consumer
  std::condition_variable ready_;  // the consumer waits here for its index
  std::map<uint64_t, Batch> done_;
  uint64_t next_claim_ = 0;    // the next index a producer will make
  uint64_t next_consume_ = 0;  // the index next() returns
  uint64_t failed_index_ = 0;
  std::exception_ptr failure_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace revunet::data

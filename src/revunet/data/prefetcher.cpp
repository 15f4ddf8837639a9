#include "revunet/data/prefetcher.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <utility>

namespace revunet::data {

std::function<Batch(uint64_t)> training_batches(const PatchSampler& sampler,
                                                const Augmenter* augmenter) {
  return [&sampler, augmenter](uint64_t index) {
    Batch batch = sampler.batch_at(index);
    return augmenter ? augmenter->apply_at(std::move(batch), index) : batch;
  };
}

BatchPrefetcher::BatchPrefetcher(std::function<Batch(uint64_t)> make, PrefetchOptions options)
    : make_(std::move(make)), options_(options) {
  TORCH_CHECK(make_, "BatchPrefetcher needs a producer function");
  TORCH_CHECK(options_.capacity > 0, "BatchPrefetcher: capacity must be positive, got ",
              options_.capacity);
  TORCH_CHECK(options_.threads > 0, "BatchPrefetcher: threads must be positive, got ",
              options_.threads);
  next_claim_ = next_consume_ = options_.first_index;
  threads_.reserve(static_cast<size_t>(options_.threads));
  for (int64_t i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { work(); });
}

BatchPrefetcher::BatchPrefetcher(std::function<Batch()> make, int64_t capacity)
    : BatchPrefetcher(
          [make = std::move(make)](uint64_t) {
            // One thread claims indices in order, so a stateful producer runs in order too.
            return make();
          },
          PrefetchOptions{capacity, 1, 0}) {}

BatchPrefetcher::~BatchPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_.notify_all();
  ready_.notify_all();
  // A producer in the middle of a batch finishes it first; none waits for the consumer.
  for (auto& t : threads_) t.join();
}

void BatchPrefetcher::work() {
  // A new thread starts with OpenMP's default thread count, not the one set with
  // at::set_num_threads: apply the process-wide setting here as LibTorch's own threads do.
  at::init_num_threads();
  torch::NoGradGuard no_grad;
  for (;;) {
    uint64_t index = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      space_.wait(lock, [this] {
        return stopping_ || failure_ ||
               next_claim_ < next_consume_ + static_cast<uint64_t>(options_.capacity);
      });
      if (stopping_ || failure_) return;
      index = next_claim_++;
    }
    Batch batch;
    std::exception_ptr error;
    try {
      batch = make_(index);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error) {
        // Keep the earliest failure: that is where the consumer will stop.
        if (!failure_ || index < failed_index_) {
          failure_ = error;
          failed_index_ = index;
        }
      } else {
        done_.emplace(index, std::move(batch));
      }
    }
    ready_.notify_all();
    if (error) space_.notify_all();  // wake the other producers so they stop
  }
}

Batch BatchPrefetcher::next() {
  Batch batch;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] {
      return done_.count(next_consume_) > 0 || (failure_ && failed_index_ <= next_consume_);
    });
    auto it = done_.find(next_consume_);
    if (it == done_.end()) std::rethrow_exception(failure_);
    batch = std::move(it->second);
    done_.erase(it);
    ++next_consume_;
  }
  space_.notify_all();
  return batch;
}

uint64_t BatchPrefetcher::next_index() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_consume_;
}

}  // namespace revunet::data

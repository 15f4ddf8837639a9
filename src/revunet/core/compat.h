// The one place where LibTorch 1.13 (Debian, CPU) and LibTorch 2.x (CUDA) differ for revunet.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/ScalarType.h>
#include <torch/version.h>

#define REVUNET_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||          \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// c10::Allocator::allocate lost its `const` and gained a pure-virtual copy_data in 2.3.
#if REVUNET_TORCH_AT_LEAST(2, 3)
#define REVUNET_ALLOCATE_CONST
#define REVUNET_ALLOCATOR_COPY_DATA                                               \
  void copy_data(void* dest, const void* src, std::size_t count) const override { \
    default_copy_data(dest, src, count);                                          \
  }
#else
#define REVUNET_ALLOCATE_CONST const
#define REVUNET_ALLOCATOR_COPY_DATA
#endif

namespace revunet::compat {

// Autocast state of the calling thread, for CUDA and CPU. The backward pass runs on an engine
// thread with autocast off, so a recompute must replay the state the forward ran under.
struct AutocastState {
  bool cuda_enabled = false;
  bool cpu_enabled = false;
  c10::ScalarType cuda_dtype = c10::kHalf;
  c10::ScalarType cpu_dtype = c10::kBFloat16;

  static AutocastState current();
  bool any() const { return cuda_enabled || cpu_enabled; }
};

// Installs an autocast state for a scope and restores the previous one (and clears the autocast
// weight cache, as torch.autocast does on exit). `cache_casts = false` turns the cast cache off
// for the scope: autocast otherwise keeps the low-precision copy of every float leaf that requires
// grad until the scope ends, which in a recompute includes each rebuilt input.
class AutocastGuard {
 public:
  explicit AutocastGuard(const AutocastState& state, bool cache_casts = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  AutocastState previous_;
  bool previous_cache_ = true;
};

// CUDA caching-allocator statistics for one device (zeros when LibTorch has no CUDA).
struct CudaMemoryStats {
  int64_t allocated_current = 0;
  int64_t allocated_peak = 0;
  int64_t reserved_current = 0;
};
CudaMemoryStats cuda_memory_stats(int device);
void cuda_reset_peak(int device);
void cuda_set_memory_fraction(double fraction, int device);
void cuda_empty_cache();
bool cuda_available();
std::string cuda_device_name(int device);
int64_t cuda_total_memory(int device);

}  // namespace revunet::compat

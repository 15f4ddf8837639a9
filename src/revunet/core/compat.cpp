#include "revunet/core/compat.h"

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>

#if REVUNET_WITH_CUDA
#include <ATen/Functions.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>

#include <mutex>
#endif

namespace revunet::compat {

AutocastState AutocastState::current() {
  AutocastState s;
#if REVUNET_TORCH_AT_LEAST(2, 4)
  s.cuda_enabled = at::autocast::is_autocast_enabled(at::kCUDA);
  s.cpu_enabled = at::autocast::is_autocast_enabled(at::kCPU);
  s.cuda_dtype = at::autocast::get_autocast_dtype(at::kCUDA);
  s.cpu_dtype = at::autocast::get_autocast_dtype(at::kCPU);
#else
  s.cuda_enabled = at::autocast::is_enabled();
  s.cpu_enabled = at::autocast::is_cpu_enabled();
  s.cuda_dtype = at::autocast::get_autocast_gpu_dtype();
  s.cpu_dtype = at::autocast::get_autocast_cpu_dtype();
#endif
  return s;
}

static void apply(const AutocastState& s) {
#if REVUNET_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(at::kCUDA, s.cuda_enabled);
  at::autocast::set_autocast_enabled(at::kCPU, s.cpu_enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, s.cuda_dtype);
  at::autocast::set_autocast_dtype(at::kCPU, s.cpu_dtype);
#else
  at::autocast::set_enabled(s.cuda_enabled);
  at::autocast::set_cpu_enabled(s.cpu_enabled);
  at::autocast::set_autocast_gpu_dtype(s.cuda_dtype);
  at::autocast::set_autocast_cpu_dtype(s.cpu_dtype);
#endif
}

AutocastGuard::AutocastGuard(const AutocastState& state, bool cache_casts)
    : previous_(AutocastState::current()),
      previous_cache_(at::autocast::is_autocast_cache_enabled()) {
  apply(state);
  at::autocast::set_autocast_cache_enabled(cache_casts);
}

AutocastGuard::~AutocastGuard() {
  apply(previous_);
  at::autocast::set_autocast_cache_enabled(previous_cache_);
  if (!previous_.any()) at::autocast::clear_cache();
}

#if REVUNET_WITH_CUDA
namespace cca = c10::cuda::CUDACachingAllocator;
// StatType::AGGREGATE is index 0 in every version (its namespace moved in 2.x).
constexpr size_t kAggregate = 0;

// The caching allocator of LibTorch 2.x sets a device up on its first allocation; asking it for
// stats, a memory fraction or an empty cache before that fails ("Allocator not initialized for
// device", "Invalid device argument"). One tiny allocation sets it up.
void ensure_allocator(int device) {
  static std::once_flag once[64];
  std::call_once(once[device & 63], [device] {
    at::empty({1}, at::TensorOptions().device(
                       c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(device))));
  });
}

CudaMemoryStats cuda_memory_stats(int device) {
  ensure_allocator(device);
  const auto stats = cca::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  CudaMemoryStats out;
  out.allocated_current = stats.allocated_bytes[kAggregate].current;
  out.allocated_peak = stats.allocated_bytes[kAggregate].peak;
  out.reserved_current = stats.reserved_bytes[kAggregate].current;
  return out;
}
void cuda_reset_peak(int device) {
  ensure_allocator(device);
  cca::resetPeakStats(static_cast<c10::DeviceIndex>(device));
}
void cuda_set_memory_fraction(double fraction, int device) {
  ensure_allocator(device);
  cca::setMemoryFraction(fraction, static_cast<c10::DeviceIndex>(device));
}
void cuda_empty_cache() {
  ensure_allocator(c10::cuda::current_device());
  cca::emptyCache();
}
bool cuda_available() {
  return torch::cuda::is_available();
}
std::string cuda_device_name(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "cuda";
  return prop.name;
}
int64_t cuda_total_memory(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return 0;
  return static_cast<int64_t>(prop.totalGlobalMem);
}
#else
CudaMemoryStats cuda_memory_stats(int) {
  return {};
}
void cuda_reset_peak(int) {}
void cuda_set_memory_fraction(double, int) {}
void cuda_empty_cache() {}
bool cuda_available() {
  return false;
}
std::string cuda_device_name(int) {
  return "none";
}
int64_t cuda_total_memory(int) {
  return 0;
}
#endif

}  // namespace revunet::compat

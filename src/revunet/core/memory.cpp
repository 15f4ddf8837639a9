#include "revunet/core/memory.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <mutex>

#include "revunet/core/compat.h"

namespace revunet::core {
namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<int> g_cuda_scopes{0};

void raise_peak(int64_t candidate) {
  int64_t seen = g_peak.load(std::memory_order_relaxed);
  while (candidate > seen && !g_peak.compare_exchange_weak(seen, candidate)) {
  }
}

// What travels with each tracked allocation: the wrapped allocator's DataPtr (freed with us) and
// the size to subtract.
struct Tracked {
  c10::DataPtr inner;
  int64_t bytes;
};

void delete_tracked(void* context) {
  auto* tracked = static_cast<Tracked*>(context);
  g_current.fetch_sub(tracked->bytes, std::memory_order_relaxed);
  delete tracked;  // frees the wrapped allocation through its own deleter
}

class TrackingAllocator final : public c10::Allocator {
 public:
  explicit TrackingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) REVUNET_ALLOCATE_CONST override {
    c10::DataPtr inner = inner_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    auto* tracked = new Tracked{std::move(inner), static_cast<int64_t>(n)};
    raise_peak(g_current.fetch_add(tracked->bytes, std::memory_order_relaxed) + tracked->bytes);
    return c10::DataPtr(data, tracked, &delete_tracked, device);
  }

  REVUNET_ALLOCATOR_COPY_DATA

 private:
  c10::Allocator* inner_;
};

std::once_flag g_install_once;
std::atomic<bool> g_installed{false};

}  // namespace

void CpuMemoryTracker::install() {
  std::call_once(g_install_once, [] {
    // Never destroyed: tensors allocated through it may be freed during static destruction.
    static auto* tracker = new TrackingAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(tracker, /*priority=*/100);
    g_installed = true;
  });
}

bool CpuMemoryTracker::installed() { return g_installed.load(); }
int64_t CpuMemoryTracker::current_bytes() { return g_current.load(); }
int64_t CpuMemoryTracker::peak_bytes() { return g_peak.load(); }
int64_t CpuMemoryTracker::reset_peak() { return g_peak.exchange(g_current.load()); }
void CpuMemoryTracker::merge_peak(int64_t bytes) { raise_peak(bytes); }

int64_t current_bytes(c10::Device device) {
  if (device.is_cuda()) return compat::cuda_memory_stats(device.index()).allocated_current;
  TORCH_CHECK(CpuMemoryTracker::installed(),
              "CPU memory accounting needs CpuMemoryTracker::install() first");
  return CpuMemoryTracker::current_bytes();
}

PeakMemoryScope::PeakMemoryScope(c10::Device device) : device_(device) {
  if (device_.is_cuda()) {
    if (!device_.has_index()) device_ = c10::Device(c10::kCUDA, 0);
    TORCH_CHECK(g_cuda_scopes.fetch_add(1) == 0,
                "PeakMemoryScope on CUDA cannot nest: the caching allocator has one peak counter");
    compat::cuda_reset_peak(device_.index());
    baseline_ = compat::cuda_memory_stats(device_.index()).allocated_current;
  } else {
    CpuMemoryTracker::install();
    baseline_ = CpuMemoryTracker::current_bytes();
    outer_peak_ = CpuMemoryTracker::reset_peak();
  }
}

PeakMemoryScope::~PeakMemoryScope() {
  if (device_.is_cuda()) {
    g_cuda_scopes.fetch_sub(1);
  } else {
    CpuMemoryTracker::merge_peak(outer_peak_);
  }
}

int64_t PeakMemoryScope::peak_bytes() const {
  if (device_.is_cuda()) return compat::cuda_memory_stats(device_.index()).allocated_peak;
  return CpuMemoryTracker::peak_bytes();
}

int64_t PeakMemoryScope::current_bytes() const { return core::current_bytes(device_); }

}  // namespace revunet::core

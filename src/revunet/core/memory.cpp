#include "revunet/core/memory.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <cstring>
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

// Each tracked block is the wrapped allocator's raw block with a small header in front that
// records the size. The DataPtr's context is the data pointer itself, as raw_allocate() (used by
// some CPU kernels, e.g. oneDNN reorders) requires; the header keeps the deleter lock-free.
constexpr size_t kHeader = 64;  // keeps the 64-byte alignment of the default CPU allocator
c10::DeleterFnPtr g_inner_raw_deleter = nullptr;

void delete_tracked(void* data) {
  if (data == nullptr) return;
  char* base = static_cast<char*>(data) - kHeader;
  int64_t bytes = 0;
  std::memcpy(&bytes, base, sizeof(bytes));
  g_current.fetch_sub(bytes, std::memory_order_relaxed);
  g_inner_raw_deleter(base);
}

class TrackingAllocator final : public c10::Allocator {
 public:
  explicit TrackingAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) REVUNET_ALLOCATE_CONST override {
    char* base = static_cast<char*>(inner_->raw_allocate(n + kHeader));
    const auto bytes = static_cast<int64_t>(n);
    std::memcpy(base, &bytes, sizeof(bytes));
    raise_peak(g_current.fetch_add(bytes, std::memory_order_relaxed) + bytes);
    char* data = base + kHeader;
    return c10::DataPtr(data, data, &delete_tracked, c10::Device(c10::kCPU));
  }

  c10::DeleterFnPtr raw_deleter() const override { return &delete_tracked; }

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
    c10::Allocator* inner = c10::GetCPUAllocator();
    g_inner_raw_deleter = inner->raw_deleter();
    TORCH_CHECK(g_inner_raw_deleter != nullptr,
                "CpuMemoryTracker: the CPU allocator has no raw deleter; cannot wrap it");
    static auto* tracker = new TrackingAllocator(inner);
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

// Memory accounting. On CPU a tracking allocator sits in front of LibTorch's default CPU allocator
// and counts the bytes of every live tensor; on CUDA the caching allocator's statistics are used.
// Both answer the same questions: bytes in use now, and the peak during a scope.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>

namespace revunet::core {

// Process-wide CPU byte counters. install() puts the tracker in front of the CPU allocator; it
// stays installed (tensors allocated through it may outlive any scope). Thread-safe.
class CpuMemoryTracker {
 public:
  static void install();
  static bool installed();
  static int64_t current_bytes();
  static int64_t peak_bytes();
  // Sets the peak to the current bytes and returns the old peak.
  static int64_t reset_peak();
  // Raises the peak to at least `bytes` (used to restore an enclosing scope's peak).
  static void merge_peak(int64_t bytes);
};

// Peak and current bytes on one device (CPU through the tracker, CUDA through the caching
// allocator), measured over a scope. Scopes nest: an inner scope does not hide its peak from an
// outer one.
class PeakMemoryScope {
 public:
  explicit PeakMemoryScope(c10::Device device = c10::kCPU);
  ~PeakMemoryScope();
  PeakMemoryScope(const PeakMemoryScope&) = delete;
  PeakMemoryScope& operator=(const PeakMemoryScope&) = delete;

  int64_t baseline_bytes() const { return baseline_; }
  // Highest bytes in use on the device since the scope began (absolute, baseline included).
  int64_t peak_bytes() const;
  // Peak minus baseline: what the measured block added at its worst.
  int64_t peak_above_baseline() const { return peak_bytes() - baseline_; }
  int64_t current_bytes() const;

 private:
  c10::Device device_;
  int64_t baseline_ = 0;
  int64_t outer_peak_ = 0;
};

// Current bytes on a device (CPU: the tracker, which must be installed).
int64_t current_bytes(c10::Device device);

}  // namespace revunet::core

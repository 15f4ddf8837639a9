// The trainer's progress line: redrawn in place on a terminal (throttled), or one plain line per
// epoch when the output is a file or a pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "revunet/core/bytes.h"

namespace revunet::train {

struct ProgressState {
  int64_t epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;  // optimiser steps within the epoch
  double loss = 0;              // running mean over the epoch
  double it_per_s = 0;
  double eta_seconds = 0;   // whole run
  int64_t peak_bytes = -1;  // < 0: unknown
};

class ProgressLine {
 public:
  ProgressLine(std::ostream& out, bool redraw);
  // Redraws the line (terminal mode only, at most every 0.2 s and always at the last step).
  void update(const ProgressState& state);
  // The epoch's final line, kept on screen; `extra` is appended (validation results).
  void finish(const ProgressState& state, const std::string& extra);

  static std::string format(const ProgressState& state);

 private:
  std::ostream& out_;
  bool redraw_;
  std::chrono::steady_clock::time_point last_draw_{};
};

std::string format_duration(double seconds);  // "12s", "3m05s", "2h01m"
using core::format_bytes;                     // "812.00 KiB", "1.50 GiB"

// Whether stdout is a terminal.
bool stdout_is_terminal();

}  // namespace revunet::train

#include "revunet/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ostream>

namespace revunet::train {

ProgressLine::ProgressLine(std::ostream& out, bool redraw) : out_(out), redraw_(redraw) {}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  }
  return buf;
}

std::string ProgressLine::format(const ProgressState& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "epoch %lld/%lld  it %lld/%lld  loss %.4f  %.2f it/s  ETA %s  peak %s",
                static_cast<long long>(s.epoch), static_cast<long long>(s.epochs),
                static_cast<long long>(s.step), static_cast<long long>(s.steps), s.loss, s.it_per_s,
                format_duration(s.eta_seconds).c_str(), format_bytes(s.peak_bytes).c_str());
  return buf;
}

void ProgressLine::update(const ProgressState& state) {
  if (!redraw_) return;
  const auto now = std::chrono::steady_clock::now();
  if (state.step < state.steps && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  out_ << "\r\033[K" << format(state) << std::flush;
}

void ProgressLine::finish(const ProgressState& state, const std::string& extra) {
  if (redraw_) out_ << "\r\033[K";
  out_ << format(state) << extra << "\n" << std::flush;
}

bool stdout_is_terminal() {
  return ::isatty(STDOUT_FILENO) == 1;
}

}  // namespace revunet::train

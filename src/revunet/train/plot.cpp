#include "revunet/train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "revunet/core/error.h"
#include "revunet/train/canvas.h"

namespace revunet::train {
namespace {

const core::Rgb kBlack{0, 0, 0};
const core::Rgb kGrid{225, 225, 225};
const core::Rgb kAxis{90, 90, 90};
// Distinct line colours (tab10-like).
const core::Rgb kPalette[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                              {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127}};

std::string tick_label(double v, double step) {
  char buf[32];
  if (std::abs(v) < step * 1e-6) v = 0;
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  if (std::abs(v) >= 1e5 || (v != 0 && std::abs(v) < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.1e", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), v);
  }
  return buf;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // A usable range even for no points or one value.
  void settle() {
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) {
      const double pad = std::max(std::abs(lo) * 0.1, 0.5);
      lo -= pad;
      hi += pad;
    }
  }
};

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || target < 1) return {lo};
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(t);
  }
  return ticks;
}

TrainingCurves read_training_curves(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open the metrics log (expected OUT_DIR/metrics.jsonl)");
  TrainingCurves curves;
  curves.loss.name = "train loss";
  curves.loss.color = kPalette[0];
  std::string text;
  int line_number = 0;
  while (std::getline(in, text)) {
    ++line_number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json line;
    try {
      line = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
      fail(path + ":" + std::to_string(line_number), "not a JSON line");
    }
    if (!line.is_object() || !line.contains("epoch") || !line["epoch"].is_number()) {
      fail(path + ":" + std::to_string(line_number), "has no numeric \"epoch\"");
    }
    const double epoch = line["epoch"].get<double>();
    if (line.contains("train_loss") && line["train_loss"].is_number()) {
      curves.loss.x.push_back(epoch);
      curves.loss.y.push_back(line["train_loss"].get<double>());
    }
    if (!line.contains("validation") || !line["validation"].is_object()) continue;
    for (const auto& [key, value] : line["validation"].items()) {
      if (key.rfind("dice", 0) != 0 || !value.is_number()) continue;
      auto it = std::find_if(curves.dice.begin(), curves.dice.end(),
                             [&](const Series& s) { return s.name == key; });
      if (it == curves.dice.end()) {
        Series s;
        s.name = key;
        s.color = kPalette[(curves.dice.size() + 1) % std::size(kPalette)];
        curves.dice.push_back(s);
        it = curves.dice.end() - 1;
      }
      it->x.push_back(epoch);
      it->y.push_back(value.get<double>());
    }
  }
  return curves;
}

void draw_chart(core::RgbImage& image, int x, int y, int width, int height,
                const std::string& title, const std::string& x_label,
                const std::vector<Series>& series) {
  Canvas canvas(image);
  // Plot area inside the margins left for tick labels, title and axis label.
  const int left = x + 62, right = x + width - 12, top = y + 24, bottom = y + height - 40;
  Range xr, yr;
  for (const Series& s : series) {
    for (double v : s.x) xr.add(v);
    for (double v : s.y) yr.add(v);
  }
  xr.settle();
  yr.settle();
  const double pad = (yr.hi - yr.lo) * 0.05;
  yr.lo -= pad;
  yr.hi += pad;
  auto px = [&](double v) { return left + (v - xr.lo) / (xr.hi - xr.lo) * (right - left); };
  auto py = [&](double v) { return bottom - (v - yr.lo) / (yr.hi - yr.lo) * (bottom - top); };

  canvas.text(x + (width - Canvas::text_width(title, 2)) / 2, y + 4, title, kBlack, 2);
  const std::vector<double> yticks = nice_ticks(yr.lo, yr.hi, 6);
  const double ystep = yticks.size() > 1 ? yticks[1] - yticks[0] : 1;
  for (double t : yticks) {
    const int ty = static_cast<int>(std::lround(py(t)));
    canvas.line(left, ty, right, ty, kGrid);
    canvas.line(left - 4, ty, left, ty, kAxis);
    const std::string label = tick_label(t, ystep);
    canvas.text(left - 7 - Canvas::text_width(label), ty - 3, label, kBlack);
  }
  const std::vector<double> xticks = nice_ticks(xr.lo, xr.hi, 8);
  const double xstep = xticks.size() > 1 ? xticks[1] - xticks[0] : 1;
  for (double t : xticks) {
    const int tx = static_cast<int>(std::lround(px(t)));
    canvas.line(tx, top, tx, bottom, kGrid);
    canvas.line(tx, bottom, tx, bottom + 4, kAxis);
    const std::string label = tick_label(t, xstep);
    canvas.text(tx - Canvas::text_width(label) / 2, bottom + 8, label, kBlack);
  }
  canvas.line(left, top, left, bottom, kAxis);
  canvas.line(left, bottom, right, bottom, kAxis);
  canvas.text((left + right - Canvas::text_width(x_label)) / 2, bottom + 22, x_label, kBlack);

  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (i > 0) canvas.line(px(s.x[i - 1]), py(s.y[i - 1]), px(s.x[i]), py(s.y[i]), s.color, 2);
      canvas.fill_rect(static_cast<int>(std::lround(px(s.x[i]))) - 2,
                       static_cast<int>(std::lround(py(s.y[i]))) - 2, 5, 5, s.color);
    }
  }

  // Legend in the top-right corner of the plot area, on a white box.
  int legend_width = 0;
  for (const Series& s : series) legend_width = std::max(legend_width, Canvas::text_width(s.name));
  legend_width += 34;
  const int legend_height = static_cast<int>(series.size()) * 12 + 6;
  const int lx = right - legend_width - 6, ly = top + 6;
  if (!series.empty()) {
    canvas.fill_rect(lx, ly, legend_width, legend_height, {255, 255, 255});
    canvas.line(lx, ly, lx + legend_width, ly, kAxis);
    canvas.line(lx, ly + legend_height, lx + legend_width, ly + legend_height, kAxis);
    canvas.line(lx, ly, lx, ly + legend_height, kAxis);
    canvas.line(lx + legend_width, ly, lx + legend_width, ly + legend_height, kAxis);
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const int row = ly + 4 + static_cast<int>(i) * 12;
    canvas.line(lx + 5, row + 3, lx + 23, row + 3, series[i].color, 2);
    canvas.text(lx + 28, row, series[i].name, kBlack);
  }
}

core::RgbImage plot_training_curves(const TrainingCurves& curves, int width, int height) {
  core::RgbImage image(width, height);
  const int half = width / 2;
  draw_chart(image, 0, 0, half, height, "training loss", "epoch", {curves.loss});
  draw_chart(image, half, 0, width - half, height, "validation dice", "epoch", curves.dice);
  return image;
}

void plot_metrics_file(const std::string& metrics_path, const std::string& png_path) {
  core::write_png(png_path, plot_training_curves(read_training_curves(metrics_path)));
}

}  // namespace revunet::train

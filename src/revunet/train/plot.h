// Training curves from metrics.jsonl drawn into a PNG: the training loss per epoch on the left,
// the validation Dice scores (every numeric "dice_*" key of "validation") on the right.
#pragma once

#include <string>
#include <vector>

#include "revunet/core/png.h"

namespace revunet::train {

struct Series {
  std::string name;
  std::vector<double> x, y;
  core::Rgb color;
};

// One line per epoch read from `path`: the training loss and the validation Dice curves (in the
// order the keys first appear). Throws revunet::Error naming the file and line when a line is not
// JSON or has no "epoch".
struct TrainingCurves {
  Series loss;
  std::vector<Series> dice;
};
TrainingCurves read_training_curves(const std::string& path);

// A chart with axes, nice ticks and a legend, drawn into the rectangle (x, y, width, height).
void draw_chart(core::RgbImage& image, int x, int y, int width, int height,
                const std::string& title, const std::string& x_label,
                const std::vector<Series>& series);

// Both charts side by side.
core::RgbImage plot_training_curves(const TrainingCurves& curves, int width = 1000,
                                    int height = 420);

// Reads `metrics_path`, writes `png_path`.
void plot_metrics_file(const std::string& metrics_path, const std::string& png_path);

// Tick positions for [lo, hi]: multiples of 1, 2 or 5 x 10^k, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace revunet::train

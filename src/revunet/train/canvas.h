// Drawing on an RgbImage: lines, filled rectangles and text in a 5x7 bitmap font (upper-case
// letters, digits and the punctuation plots need; lower case is drawn as upper case).
#pragma once

#include <string>

#include "revunet/core/png.h"

namespace revunet::train {

class Canvas {
 public:
  explicit Canvas(core::RgbImage& image) : image_(image) {}

  void line(double x0, double y0, double x1, double y1, core::Rgb color, int thickness = 1);
  void fill_rect(int x, int y, int width, int height, core::Rgb color);
  // Top-left corner at (x, y); each font pixel drawn as scale x scale.
  void text(int x, int y, const std::string& text, core::Rgb color, int scale = 1);
  // Text turned 90 degrees counter-clockwise (for a y-axis label), its bottom-left at (x, y).
  void vertical_text(int x, int y, const std::string& text, core::Rgb color, int scale = 1);

  static int text_width(const std::string& text, int scale = 1);  // 6 px per glyph
  static int text_height(int scale = 1) { return 7 * scale; }

  core::RgbImage& image() { return image_; }

 private:
  core::RgbImage& image_;
};

}  // namespace revunet::train

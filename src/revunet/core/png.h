// A minimal PNG writer: 8-bit RGB, no interlacing, filter 0 on every row, zlib deflate. Enough for
// plots made from result files, with no image library to install.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace revunet::core {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Rgb& o) const { return !(*this == o); }
};

// Row-major RGB8 pixels, (0, 0) at the top left.
class RgbImage {
 public:
  RgbImage(int width, int height, Rgb background = {255, 255, 255});

  int width() const { return width_; }
  int height() const { return height_; }
  // Out-of-range pixels are ignored, so drawing code may clip by simply writing.
  void set(int x, int y, Rgb color);
  Rgb get(int x, int y) const;  // throws std::out_of_range outside the image
  const std::vector<uint8_t>& pixels() const { return pixels_; }

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

// The PNG file's bytes.
std::string encode_png(const RgbImage& image);

// Writes the PNG through a temporary file and a rename; throws revunet::Error naming `path`.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace revunet::core

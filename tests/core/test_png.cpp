#include "revunet/core/png.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace revunet::core {
namespace {

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

TEST(Png, WrittenFileHasSignatureHeaderAndDecodesToThePixels) {
  RgbImage image(7, 5, {10, 20, 30});
  for (int y = 0; y < 5; ++y) image.set(y, y, {255, uint8_t(40 * y), 0});
  image.set(6, 0, {1, 2, 3});
  image.set(100, 100, {9, 9, 9});  // outside: ignored

  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("revunet_test_png_" + std::to_string(::getpid()) + ".png");
  write_png(path.string(), image);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string png = buffer.str();
  std::filesystem::remove(path);

  ASSERT_GT(png.size(), 8u + 25 + 12 + 12);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(be32(png, 8), 13u);
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(png, 16), 7u);
  EXPECT_EQ(be32(png, 20), 5u);
  EXPECT_EQ(png[24], 8);  // bit depth
  EXPECT_EQ(png[25], 2);  // RGB

  // Walk the chunks, check every crc, gather IDAT.
  std::string idat;
  size_t at = 8;
  bool ended = false;
  while (at + 12 <= png.size()) {
    const uint32_t length = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    const std::string body = png.substr(at + 4, 4 + length);
    EXPECT_EQ(be32(png, at + 8 + length),
              uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())))
        << type;
    if (type == "IDAT") idat += png.substr(at + 8, length);
    if (type == "IEND") ended = true;
    at += 12 + length;
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(at, png.size());

  std::string raw(5 * (1 + 7 * 3), '\0');
  uLongf raw_size = raw.size();
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                       reinterpret_cast<const Bytef*>(idat.data()), idat.size()),
            Z_OK);
  ASSERT_EQ(raw_size, raw.size());
  for (int y = 0; y < 5; ++y) {
    const size_t row = y * (1 + 7 * 3);
    EXPECT_EQ(raw[row], 0) << "filter of row " << y;
    for (int x = 0; x < 7; ++x) {
      const Rgb want = image.get(x, y);
      const Rgb got{uint8_t(raw[row + 1 + 3 * x]), uint8_t(raw[row + 2 + 3 * x]),
                    uint8_t(raw[row + 3 + 3 * x])};
      EXPECT_EQ(got, want) << x << "," << y;
    }
  }
  EXPECT_EQ(image.get(3, 3), (Rgb{255, 120, 0}));
  EXPECT_EQ(image.get(6, 0), (Rgb{1, 2, 3}));
}

}  // namespace
}  // namespace revunet::core

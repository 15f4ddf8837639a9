#include "revunet/train/plot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "revunet/core/error.h"
#include "revunet/train/canvas.h"

namespace revunet::train {
namespace {

namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("revunet_test_plot_" + std::to_string(::getpid()) + name);
}

TEST(Plot, NiceTicksAreRoundAndCoverTheRange) {
  const auto t = nice_ticks(0.03, 0.91, 5);
  ASSERT_GE(t.size(), 4u);
  EXPECT_NEAR(t.front(), 0.2, 1e-12);
  EXPECT_NEAR(t[1] - t[0], 0.2, 1e-12);
  EXPECT_LE(t.back(), 0.91);
  const auto e = nice_ticks(1, 40, 8);
  EXPECT_NEAR(e[1] - e[0], 5, 1e-12);
}

TEST(Plot, ReadsLossAndDiceCurvesFromMetricsLines) {
  const fs::path log = temp_file("metrics.jsonl");
  std::ofstream(log)
      << R"({"epoch":1,"train_loss":1.5})"
         "\n"
      << R"({"epoch":2,"train_loss":1.0,"validation":{"dice_WT":0.5,"dice_mean":0.4,"hd95":3}})"
         "\n\n"
      << R"({"epoch":3,"train_loss":0.7,"validation":{"dice_WT":0.6,"dice_mean":0.5}})"
         "\n";
  const TrainingCurves c = read_training_curves(log.string());
  EXPECT_EQ(c.loss.y, (std::vector<double>{1.5, 1.0, 0.7}));
  ASSERT_EQ(c.dice.size(), 2u);
  EXPECT_EQ(c.dice[0].name, "dice_WT");
  EXPECT_EQ(c.dice[0].x, (std::vector<double>{2, 3}));
  EXPECT_EQ(c.dice[1].y, (std::vector<double>{0.4, 0.5}));

  const fs::path png = temp_file("curves.png");
  plot_metrics_file(log.string(), png.string());
  EXPECT_GT(fs::file_size(png), 1000u);
  const core::RgbImage image = plot_training_curves(c);
  // The loss series colour appears in the left half, the first Dice colour in the right half.
  auto count = [&](core::Rgb color, int x0, int x1) {
    int n = 0;
    for (int y = 0; y < image.height(); ++y)
      for (int x = x0; x < x1; ++x) n += image.get(x, y) == color;
    return n;
  };
  EXPECT_GT(count(c.loss.color, 0, image.width() / 2), 50);
  EXPECT_EQ(count(c.dice[0].color, 0, image.width() / 2), 0);
  EXPECT_GT(count(c.dice[0].color, image.width() / 2, image.width()), 50);
  fs::remove(log);
  fs::remove(png);
}

TEST(Plot, BadLinesNameTheFileAndLine) {
  const fs::path log = temp_file("bad.jsonl");
  std::ofstream(log) << R"({"epoch":1,"train_loss":1.5})"
                        "\nnot json\n";
  try {
    read_training_curves(log.string());
    FAIL();
  } catch (const revunet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  fs::remove(log);
}

TEST(Canvas, DrawsGlyphsAndLines) {
  core::RgbImage image(40, 20);
  Canvas canvas(image);
  const core::Rgb red{255, 0, 0};
  canvas.text(1, 1, "1", red);
  // '1' row 0 is 0x04: only the middle column is set.
  EXPECT_EQ(image.get(3, 1), red);
  EXPECT_NE(image.get(1, 1), red);
  EXPECT_EQ(image.get(2, 7), red);  // bottom row 0x0E spans columns 1..3
  canvas.line(0, 15, 39, 15, red);
  for (int x = 0; x < 40; ++x) EXPECT_EQ(image.get(x, 15), red);
  EXPECT_EQ(Canvas::text_width("abc"), 17);
}

}  // namespace
}  // namespace revunet::train

// Tumour overlays (see overlay.h).
#include "revunet/cli/overlay.h"

#include <torch/torch.h>

#include <algorithm>

#include "revunet/core/png.h"
#include "revunet/train/canvas.h"

namespace revunet::cli {
namespace {

constexpr int kMargin = 8;
constexpr int kHeader = 24;

int64_t tumour_slice(const torch::Tensor& reference, const torch::Tensor& prediction) {
  for (const auto* regions : {&reference, &prediction}) {
    const torch::Tensor area = (*regions)[0].to(torch::kFloat).sum(0).sum(0);
    if (area.max().item<float>() > 0) return area.argmax().item<int64_t>();
  }
  return reference.size(3) / 2;
}

// One panel at (x0, y0): grey FLAIR, labels blended in. Anterior (larger Y) is up.
void draw_panel(core::RgbImage& image, int x0, int y0, int scale, const torch::Tensor& grey,
                const torch::Tensor& regions) {
  const auto g = grey.accessor<float, 2>();
  const auto r = regions.accessor<bool, 3>();
  const int64_t nx = grey.size(0), ny = grey.size(1);
  for (int64_t x = 0; x < nx; ++x) {
    for (int64_t y = 0; y < ny; ++y) {
      const double v = g[x][y];
      double red = v, green = v, blue = v;
      core::Rgb tint{0, 0, 0};
      bool tinted = true;
      if (r[2][x][y]) {
        tint = {255, 230, 0};  // enhancing
      } else if (r[1][x][y]) {
        tint = {230, 30, 30};  // necrosis
      } else if (r[0][x][y]) {
        tint = {40, 200, 60};  // oedema
      } else {
        tinted = false;
      }
      if (tinted) {
        const double a = 0.55;
        red = (1 - a) * v + a * tint.r;
        green = (1 - a) * v + a * tint.g;
        blue = (1 - a) * v + a * tint.b;
      }
      const core::Rgb c{static_cast<uint8_t>(red), static_cast<uint8_t>(green),
                        static_cast<uint8_t>(blue)};
      const int px = x0 + static_cast<int>(x) * scale;
      const int py = y0 + static_cast<int>(ny - 1 - y) * scale;
      for (int dy = 0; dy < scale; ++dy) {
        for (int dx = 0; dx < scale; ++dx) image.set(px + dx, py + dy, c);
      }
    }
  }
}

}  // namespace

int64_t write_overlay(const std::string& path, const torch::Tensor& flair,
                      const torch::Tensor& reference, const torch::Tensor& prediction,
                      const std::string& title) {
  const torch::Tensor ref = reference.to(torch::kBool);
  const torch::Tensor pred = prediction.to(torch::kBool);
  const int64_t z = tumour_slice(ref, pred);
  // Grey levels: 0 .. the 99th percentile of the brain's FLAIR in this slice.
  torch::Tensor slice = flair.select(2, z).to(torch::kFloat).contiguous();
  const torch::Tensor brain = slice.masked_select(slice > 0);
  const float top =
      brain.numel() > 0 ? torch::quantile(brain, 0.99).item<float>() : slice.max().item<float>();
  const torch::Tensor grey = (slice / std::max(top, 1e-6f) * 255).clamp(0, 255).contiguous();
  const torch::Tensor ref_slice = ref.select(3, z).contiguous();
  const torch::Tensor pred_slice = pred.select(3, z).contiguous();

  const int nx = static_cast<int>(flair.size(0)), ny = static_cast<int>(flair.size(1));
  const int scale = std::max(1, 280 / std::max(nx, ny));
  const int panel_w = nx * scale, panel_h = ny * scale;
  core::RgbImage image(3 * kMargin + 2 * panel_w, kHeader + 2 * kMargin + panel_h + 12,
                       {20, 20, 20});
  train::Canvas canvas(image);
  const core::Rgb white{240, 240, 240};
  canvas.text(kMargin, 8, title + "  SLICE Z=" + std::to_string(z), white);
  const int top_y = kHeader + kMargin;
  draw_panel(image, kMargin, top_y, scale, grey, ref_slice);
  draw_panel(image, 2 * kMargin + panel_w, top_y, scale, grey, pred_slice);
  canvas.text(kMargin, top_y + panel_h + 4, "REFERENCE", white);
  canvas.text(2 * kMargin + panel_w, top_y + panel_h + 4, "PREDICTION", white);
  core::write_png(path, image);
  return z;
}

}  // namespace revunet::cli

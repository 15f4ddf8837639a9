// revunet demo: the whole product on a fresh machine with no data. Synthesises BraTS-like cases on
// the Colin27 brain, trains configs/tiny.json for a time budget, predicts held-out test cases
// (never seen in training or model selection), evaluates them, and draws overlays and curves.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/cli/overlay.h"
#include "revunet/cli/pipeline.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/data/nifti.h"
#include "revunet/data/regions.h"
#include "revunet/data/synthetic.h"
#include "revunet/nn/unet.h"
#include "revunet/nn/unet_config.h"
#include "revunet/train/loss.h"
#include "revunet/train/optim.h"

namespace revunet::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Runs another subcommand through the whole command line; a non-zero exit stops the demo.
void run_step(const std::vector<std::string>& args) {
  std::cout << "\n$ revunet";
  for (const auto& a : args) std::cout << " " << a;
  std::cout << "\n" << std::flush;
  const int rc = run_command_line(args);
  if (rc != 0) fail("demo: revunet " + args.front(), "failed with exit code " + std::to_string(rc));
}

// A synthetic dataset in a fresh folder (an earlier demo's folder, marked by synth.json, is
// replaced so that a smaller --cases leaves no stale cases behind).
void synthesize(const std::string& dir, int64_t count, const data::SynthOptions& options) {
  if (fs::exists(dir)) {
    if (!fs::exists(dir + "/synth.json")) fail(dir, "exists and is not a synthetic dataset");
    fs::remove_all(dir);
  }
  const auto start = Clock::now();
  data::write_synthetic_dataset(dir, count, options);
  std::cout << "synthesised " << count << " cases in " << dir << " ("
            << format_seconds(seconds_since(start)) << ")\n";
}

struct Timing {
  double step = 0;    // seconds per optimiser step
  double window = 0;  // seconds per sliding window (forward only)
};

// Times a few training steps and forward windows of the real model on random data, so the number
// of iterations fits the time budget on whatever machine this runs.
Timing calibrate(const nn::UNetConfig& config, int64_t batch) {
  nn::UNet model(config);
  auto optimizer = train::make_optimizer(model->parameters(), {});
  const auto& p = config.patch;
  const torch::Tensor x = torch::randn({batch, config.in_channels, p[0], p[1], p[2]});
  const torch::Tensor y = (torch::rand({batch, 3, p[0], p[1], p[2]}) > 0.9).to(torch::kFloat);
  auto step = [&] {
    optimizer->zero_grad();
    train::region_loss(model->forward(x), y, {}).total.backward();
    optimizer->step();
  };
  // The first steps pay for allocations and lazy initialisation; the fastest of the next three
  // is what a long run sees (a loaded machine otherwise makes the budget far too small).
  for (int i = 0; i < 2; ++i) step();
  Timing t;
  t.step = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    step();
    t.step = std::min(t.step, seconds_since(start));
  }
  torch::NoGradGuard no_grad;
  model->eval();
  model->forward(x.slice(0, 0, 1));
  const auto start = Clock::now();
  for (int i = 0; i < 2; ++i) model->forward(x.slice(0, 0, 1));
  t.window = seconds_since(start) / 2;
  return t;
}

// The mean of a metric from eval's summary.json (NaN when absent or not a number, e.g. inf).
double summary_mean(const nlohmann::json& summary, const char* region, const char* metric) {
  const nlohmann::json* v = &summary;
  for (const char* key : {"regions", region, metric, "mean"}) {
    if (!v->is_object() || !v->contains(key)) return std::nan("");
    v = &v->at(key);
  }
  return v->is_number() ? v->get<double>() : std::nan("");
}
double summary_dice(const nlohmann::json& summary, const char* region) {
  return summary_mean(summary, region, "dice");
}
double summary_hd95(const nlohmann::json& summary, const char* region) {
  return summary_mean(summary, region, "hd95");
}

struct DemoFlags {
  std::string out = "demo-out", config = "configs/tiny.json", lr = "0.002", anatomy = "colin27";
  double minutes = 6, val_fraction = 0.2, spacing = 3;
  int64_t cases = 20, test_cases = 6, threads = 2, epochs = 12, batch = 2;
  uint64_t seed = 0;
};

int run_demo(const DemoFlags& flags) {
  const auto start = Clock::now();
  const std::string& out = flags.out;
  const int64_t threads = flags.threads;
  torch::set_num_threads(static_cast<int>(threads));
  const double minutes = flags.minutes;
  const int64_t cases = flags.cases, test_cases = flags.test_cases;
  const int64_t epochs = flags.epochs;
  const std::string& config_path = flags.config;
  if (!fs::is_regular_file(config_path)) {
    fail(config_path, "no such config; run the demo from the repository root (./run demo)");
  }
  const nn::UNetConfig config = nn::load_unet_config(config_path);

  // (a) Data: training/validation cases and a separate test set from another seed.
  data::SynthOptions synth;
  synth.spacing = flags.spacing;
  synth.anatomy = data::parse_anatomy(flags.anatomy);
  synth.seed = flags.seed;
  const std::string colin = synth.colin27_dir + "/ch2bet.nii.gz";
  if (synth.anatomy == data::Anatomy::kColin27 && !fs::exists(colin)) {
    fail(colin,
         "Colin27 template missing: install it with `sudo apt-get install mricron-data` "
         "(./run demo does this), or pass --anatomy procedural");
  }
  fs::create_directories(out);
  const std::string data_dir = out + "/data", test_dir = out + "/test";
  std::cout << "== 1/5 synthetic data (" << flags.anatomy << ", " << synth.spacing << " mm)\n";
  synthesize(data_dir, cases, synth);
  synth.seed += 1000;
  synthesize(test_dir, test_cases, synth);

  // (b) Training, sized to the time budget from measured step and window times.
  std::cout << "\n== 2/5 training " << config_path << " for about " << minutes << " min\n";
  const int64_t batch = flags.batch;
  const Timing timing = calibrate(config, batch);
  const auto canvas = data::default_canvas(synth.spacing);
  int64_t windows = 1;  // per validation case: the brain is about 3/4 of the canvas per axis
  for (int d = 0; d < 3; ++d) {
    const int64_t size = std::max<int64_t>(config.patch[d], std::llround(0.75 * canvas[d]));
    const int64_t step = std::max<int64_t>(1, config.patch[d] / 2);
    windows *= 1 + (size - config.patch[d] + step - 1) / step;
  }
  const int64_t val_cases = std::max<int64_t>(1, std::llround(cases * flags.val_fraction));
  const int64_t validate_every = std::max<int64_t>(1, epochs / 3);
  const double validation_seconds =
      static_cast<double>((epochs + validate_every - 1) / validate_every) * val_cases * windows *
      timing.window;
  const double budget = std::max(30.0, minutes * 60 - validation_seconds);
  const int64_t iterations =
      std::max<int64_t>(5, static_cast<int64_t>(budget / (timing.step * epochs)));
  std::cout << "measured " << std::fixed << std::setprecision(2) << timing.step << " s per step, "
            << timing.window << " s per window: " << epochs << " epochs x " << iterations
            << " steps, validation every " << validate_every << " epochs\n";
  const std::string run_dir = out + "/run";
  run_step({"train", "--config", config_path, "--data", data_dir, "--out", run_dir, "--device",
            "cpu", "--epochs", std::to_string(epochs), "--iterations-per-epoch",
            std::to_string(iterations), "--batch", std::to_string(batch), "--lr", flags.lr,
            "--warmup", std::to_string(std::min<int64_t>(50, iterations)), "--validate-every",
            std::to_string(validate_every), "--val-fraction", std::to_string(flags.val_fraction),
            "--threads", std::to_string(threads), "--seed", std::to_string(flags.seed),
            // The calibration sizes the schedule; the limit bounds the time on a slower machine.
            "--time-limit", std::to_string(minutes)});

  // (c) Prediction and (d) evaluation of the held-out test cases.
  std::cout << "\n== 3/5 predicting the " << test_cases << " held-out test cases\n";
  const std::string pred_dir = out + "/pred", eval_dir = out + "/eval";
  run_step({"predict", "--model", run_dir + "/model.pt", "--in", test_dir, "--out", pred_dir,
            "--device", "cpu", "--overwrite", "--threads", std::to_string(threads)});
  std::cout << "\n== 4/5 evaluating the test cases\n";
  run_step({"evaluate", "--pred", pred_dir, "--ref", test_dir, "--out", eval_dir});

  // (e) Overlays: one axial slice through each test case's tumour.
  std::cout << "\n== 5/5 overlays\n";
  const std::string overlay_dir = out + "/overlays";
  fs::create_directories(overlay_dir);
  for (const auto& files : data::discover_cases(test_dir)) {
    const data::Case c = data::load_case(files);
    const torch::Tensor pred_labels =
        data::read_nifti(pred_dir + "/" + files.id + ".nii.gz").data.round().to(torch::kLong);
    const std::string png = overlay_dir + "/" + files.id + ".png";
    write_overlay(png, c.image[3], data::labels_to_regions(c.label, c.convention),
                  data::labels_to_regions(pred_labels, c.convention), files.id);
    std::cout << "wrote " << png << "\n";
  }

  std::ifstream in(eval_dir + "/summary.json");
  const nlohmann::json summary = nlohmann::json::parse(in);
  const double wall = seconds_since(start);
  const nlohmann::json result = {{"wall_seconds", wall},
                                 {"test_cases", test_cases},
                                 {"dice",
                                  {{"WT", summary_dice(summary, "WT")},
                                   {"TC", summary_dice(summary, "TC")},
                                   {"ET", summary_dice(summary, "ET")}}},
                                 {"hd95_mm",
                                  {{"WT", summary_hd95(summary, "WT")},
                                   {"TC", summary_hd95(summary, "TC")},
                                   {"ET", summary_hd95(summary, "ET")}}},
                                 {"epochs", epochs},
                                 {"iterations_per_epoch", iterations},
                                 {"spacing_mm", synth.spacing},
                                 {"run", core::run_info(c10::kCPU)}};
  core::write_json_atomically(out + "/demo.json", result);
  std::cout << "\ndemo finished in " << format_seconds(wall) << ": held-out test Dice WT "
            << std::setprecision(3) << summary_dice(summary, "WT") << ", TC "
            << summary_dice(summary, "TC") << ", ET " << summary_dice(summary, "ET") << "\n"
            << "results: " << eval_dir << "/summary.json, overlays: " << overlay_dir
            << "/, curves: " << run_dir << "/curves.png, summary: " << out << "/demo.json\n";
  return 0;
}

}  // namespace

Runner add_demo_command(CLI::App& app) {
  auto flags = std::make_shared<DemoFlags>();
  DemoFlags& f = *flags;
  app.footer(
      "Synthesises BraTS-like cases on the Colin27 brain (Debian's mricron-data), trains "
      "configs/tiny.json for about M minutes, predicts and evaluates held-out test cases, and "
      "writes overlays and training curves under --out.");
  app.add_option("--out", f.out, "output folder")->capture_default_str();
  app.add_option("--minutes", f.minutes,
                 "training time budget (the whole demo takes a little longer)")
      ->capture_default_str()
      ->check(positive());
  app.add_option("--cases", f.cases, "training + validation cases")
      ->capture_default_str()
      ->check(at_least(3));
  app.add_option("--test-cases", f.test_cases, "held-out test cases")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--val-fraction", f.val_fraction, "of --cases, for validation (model selection)")
      ->capture_default_str()
      ->check(in_range(0, 1, "[)"));
  app.add_option("--spacing", f.spacing, "voxel size of the synthetic cases in mm")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--threads", f.threads, "CPU threads")->capture_default_str()->check(at_least(1));
  app.add_option("--config", f.config, "model config")->capture_default_str();
  app.add_option("--epochs", f.epochs, "epochs (the iterations per epoch follow from --minutes)")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--batch", f.batch, "patches per step")->capture_default_str()->check(at_least(1));
  app.add_option("--lr", f.lr, "peak learning rate")->capture_default_str()->check(positive());
  app.add_option("--anatomy", f.anatomy, "colin27 (needs mricron-data) or procedural")
      ->capture_default_str()
      ->check(parsed_by([](const std::string& text) { data::parse_anatomy(text); }));
  add_seed_flag(app, f.seed, "random seed");
  return [flags] { return run_demo(*flags); };
}

}  // namespace revunet::cli

// revunet train: trains a U-Net from a JSON config on a BraTS folder. Cases are loaded and
// preprocessed once (on-disk cache), patches are sampled and augmented on prefetch threads, and
// validation runs the sliding window on the held-out cases. RUNDIR gets last.pt / best.pt (trainer
// checkpoints, for --resume), metrics.jsonl, curves.png, split.json and model.pt: the best
// validation weights (the last ones without validation) with their config, for `revunet predict`.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/cli/pipeline.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/memory.h"
#include "revunet/core/run_info.h"
#include "revunet/data/augment.h"
#include "revunet/data/manifest.h"
#include "revunet/data/patch_sampler.h"
#include "revunet/data/prefetcher.h"
#include "revunet/nn/model_io.h"
#include "revunet/nn/unet.h"
#include "revunet/nn/unet_config.h"
#include "revunet/train/checkpoint.h"
#include "revunet/train/plot.h"
#include "revunet/train/trainer.h"

namespace revunet::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using CasePtr = std::shared_ptr<const data::PreprocessedCase>;

struct Split {
  std::vector<data::CaseFiles> train, validation;
};

// --fold F of --folds K (data::kfold_split), else the first of round(1 / fraction) folds.
Split split_cases(std::vector<data::CaseFiles> cases, const Args& args, uint64_t seed) {
  std::vector<std::string> ids;
  for (const auto& c : cases) ids.push_back(c.id);
  int folds = 0, fold = 0;
  if (args.has("fold")) {
    folds = static_cast<int>(args.get_int("folds"));
    fold = static_cast<int>(args.get_int("fold"));
    if (folds < 2) fail("--folds", "must be at least 2");
    if (fold < 0 || fold >= folds) fail("--fold", "must be in 0.." + std::to_string(folds - 1));
  } else {
    const double fraction = args.get_double("val-fraction");
    if (!(fraction >= 0 && fraction < 1)) fail("--val-fraction", "must be in [0, 1)");
    if (fraction > 0) folds = std::max(2, static_cast<int>(std::lround(1 / fraction)));
  }
  Split split;
  const std::vector<int> assigned =
      folds > 0 ? data::kfold_split(ids, folds, seed) : std::vector<int>(ids.size(), -1);
  for (size_t i = 0; i < cases.size(); ++i) {
    (assigned[i] == fold ? split.validation : split.train).push_back(std::move(cases[i]));
  }
  if (split.train.empty()) fail("--data", "no case left for training after the split");
  return split;
}

std::vector<CasePtr> load_all(const std::vector<data::CaseFiles>& files,
                              const data::CaseCache& cache, const char* what) {
  std::vector<CasePtr> cases;
  const auto start = Clock::now();
  for (const auto& f : files) {
    if (f.seg.empty()) fail("--data", data::missing_seg_message(f));
    cases.push_back(std::make_shared<const data::PreprocessedCase>(cached_case(cache, f)));
  }
  std::cout << "loaded " << cases.size() << " " << what << " cases in "
            << format_seconds(seconds_since(start)) << "\n";
  return cases;
}

nlohmann::json ids_of(const std::vector<data::CaseFiles>& cases) {
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& c : cases) ids.push_back(c.id);
  return ids;
}

// Mean Dice per region of the sliding-window prediction on the validation cases.
nlohmann::json validate(nn::UNet& model, const std::vector<CasePtr>& cases,
                        const infer::SlidingWindowOptions& window) {
  std::array<double, 3> sum{0, 0, 0};
  for (const auto& c : cases) {
    const torch::Tensor probabilities = predict_probabilities(model, c->image, window);
    for (int r = 0; r < 3; ++r) sum[r] += dice(probabilities[r] > 0.5, c->regions[r]);
  }
  const double n = static_cast<double>(cases.size());
  return {{"dice_WT", sum[0] / n},
          {"dice_TC", sum[1] / n},
          {"dice_ET", sum[2] / n},
          {"dice_mean", (sum[0] + sum[1] + sum[2]) / (3 * n)}};
}

}  // namespace

int train_command(int argc, const char* const* argv) {
  Args args("revunet train --config FILE --data DIR --out RUNDIR [options]",
            "Train a U-Net on BraTS cases. RUNDIR gets last.pt and best.pt (checkpoints; "
            "--resume continues from last.pt), metrics.jsonl, curves.png, split.json and model.pt "
            "(best validation weights + config: what `revunet predict --model` takes; it also "
            "takes last.pt or best.pt).");
  args.option("config", "model config (JSON), e.g. configs/tiny.json")
      .option("data", "folder of BraTS cases (with masks)")
      .option("out", "run folder")
      .option("device", "cpu, cuda or cuda:N", "cpu")
      .option("epochs", "number of epochs", "10")
      .option("iterations-per-epoch", "optimiser steps per epoch", "50")
      .option("batch", "patches per step", "2")
      .option("patch", "patch X,Y,Z (default: the config's patch)")
      .option("mode", "run every stage reversible, checkpoint or plain (default: the config's)")
      .option("lr", "peak learning rate (AdamW, poly decay)", "0.001")
      .option("warmup", "warm-up iterations", "0")
      .option("foreground", "fraction of patches centred on tumour", "0.5")
      .option("seed", "random seed (split, sampling, weights)", "0")
      .option("threads", "CPU threads (0 = LibTorch's default)", "0")
      .option("val-fraction", "held-out fraction when no --fold is given (0 = no validation)",
              "0.2")
      .option("fold", "validation fold of a k-fold split (data::kfold_split)")
      .option("folds", "number of folds for --fold", "5")
      .option("validate-every", "epochs between validations (the last epoch always validates)", "1")
      .option("time-limit",
              "minutes: end (validated and saved) after the last epoch that fits "
              "(0 = none; --resume continues)",
              "0")
      .option("val-overlap", "sliding-window overlap during validation", "0.5")
      .option("workers", "batch prefetch threads", "1")
      .option("cache", "preprocessed-case cache folder (default RUNDIR/cache)")
      .flag("resume", "continue from RUNDIR/last.pt")
      .flag("bf16", "bfloat16 autocast (CUDA only)")
      .flag("no-augment", "no augmentation (patches as sampled)");
  if (!args.parse(argc, argv, 1)) return 0;
  for (const char* required : {"config", "data", "out"}) {
    if (!args.has(required)) fail(std::string("--") + required, "is required");
  }
  const auto start = Clock::now();
  const std::string out = args.get("out");
  const c10::Device device = core::parse_device(args.get("device"));
  const int64_t threads = args.get_int("threads");
  if (threads < 0) fail("--threads", "must be 0 or more");
  if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
  const uint64_t seed = static_cast<uint64_t>(args.get_int("seed"));

  if (!fs::is_regular_file(args.get("config"))) fail(args.get("config"), "no such config file");
  nn::UNetConfig config = nn::load_unet_config(args.get("config"));
  if (args.has("patch")) config.patch = args.get_int_list("patch");
  if (config.patch.size() != 3) fail("--patch", "expected X,Y,Z");
  if (args.has("mode")) {
    config.mode = rev::parse_stack_mode(args.get("mode"));  // a bad name is a one-line error
    config.stage_modes.clear();
  }
  std::array<int64_t, 3> patch{};
  for (int d = 0; d < 3; ++d) {
    patch[d] = config.patch[d];
    if (patch[d] < 8 || patch[d] % config.size_multiple() != 0) {
      fail("--patch", "each size must be a multiple of " + std::to_string(config.size_multiple()) +
                          " and at least 8");
    }
  }
  const int64_t batch = args.get_int("batch");
  if (batch < 1) fail("--batch", "must be at least 1");
  const int64_t workers = args.get_int("workers");
  if (workers < 1) fail("--workers", "must be at least 1");
  const double foreground = args.get_double("foreground");
  if (!(foreground >= 0 && foreground <= 1)) fail("--foreground", "must be in [0, 1]");
  const double overlap = args.get_double("val-overlap");
  if (!(overlap >= 0 && overlap < 1)) fail("--val-overlap", "must be in [0, 1)");

  // Data: split, then load + preprocess each case once.
  const Split split = split_cases(find_cases(args.get("data")), args, seed);
  const data::CaseCache cache(args.has("cache") ? args.get("cache") : out + "/cache");
  const std::vector<CasePtr> train_cases = load_all(split.train, cache, "training");
  const std::vector<CasePtr> val_cases = load_all(split.validation, cache, "validation");
  const nlohmann::json split_json = {{"data", args.get("data")},
                                     {"seed", seed},
                                     {"train", ids_of(split.train)},
                                     {"validation", ids_of(split.validation)}};
  fs::create_directories(out);
  core::write_json_atomically(out + "/split.json", split_json);

  data::PatchSamplerOptions sampling;
  sampling.patch = patch;
  sampling.batch = batch;
  sampling.foreground_fraction = foreground;
  sampling.seed = seed;
  const data::PatchSampler sampler(train_cases, sampling);
  // Light augmentation: flips and intensity always, occasional zoom and rotation.
  data::AugmentOptions augment;
  augment.scale_probability = 0.1;
  augment.rotation_probability = 0.1;
  const data::Augmenter augmenter(
      args.is_set("no-augment") ? data::AugmentOptions::none() : augment, seed + 1);
  const auto make_batch = data::training_batches(sampler, &augmenter);
  auto prefetch = [&](uint64_t first) {
    return std::make_unique<data::BatchPrefetcher>(make_batch,
                                                   data::PrefetchOptions{4, workers, first});
  };
  std::unique_ptr<data::BatchPrefetcher> prefetcher = prefetch(0);

  // Model (the CPU tracker first, so the progress line can show peak memory).
  if (device.is_cpu()) core::CpuMemoryTracker::install();
  core::configure_cuda_training(device);
  core::seed_everything(seed);
  nn::UNet model(config);
  model->to(device);
  std::cout << "model " << args.get("config") << ": " << nn::count_parameters(*model)
            << " parameters, patch " << patch[0] << "x" << patch[1] << "x" << patch[2] << ", batch "
            << batch << ", " << core::describe_device(device) << "\n";

  infer::SlidingWindowOptions window;
  window.window = patch;
  window.overlap = overlap;
  window.device = device;

  train::TrainerCallbacks callbacks;
  callbacks.forward = [&](const torch::Tensor& x) -> std::vector<torch::Tensor> {
    if (config.deep_supervision) return model->forward_deep(x);
    return {model->forward(x)};
  };
  callbacks.next_batch = [&] {
    data::Batch b = prefetcher->next();
    return train::TrainBatch{b.image, b.target};
  };
  if (!val_cases.empty()) callbacks.validate = [&] { return validate(model, val_cases, window); };
  callbacks.save_data_state = [&] { return std::to_string(prefetcher->next_index()); };
  callbacks.restore_data_state = [&](const std::string& state) {
    prefetcher = prefetch(std::stoull(state));
  };

  train::TrainerOptions options;
  options.epochs = args.get_int("epochs");
  options.iterations_per_epoch = args.get_int("iterations-per-epoch");
  options.validate_every = args.get_int("validate-every");
  options.device = device;
  options.out_dir = out;
  options.resume = args.is_set("resume");
  options.seed = seed;
  options.bf16_autocast = args.is_set("bf16");
  options.optimizer.lr = args.get_double("lr");
  if (!(options.optimizer.lr > 0)) fail("--lr", "must be positive");
  options.time_limit_seconds = 60 * args.get_double("time-limit");
  if (options.time_limit_seconds < 0) fail("--time-limit", "must be 0 or more minutes");
  options.warmup_iterations = args.get_int("warmup");
  if (options.warmup_iterations < 0) fail("--warmup", "must be 0 or more");

  std::cout << "training on " << train_cases.size() << " cases, validating on " << val_cases.size()
            << "; " << options.epochs << " epochs x " << options.iterations_per_epoch << " steps\n";
  train::Trainer trainer(model.ptr(), callbacks, options, nn::to_json(config).dump(),
                         split_json.dump());
  const nlohmann::json summary = trainer.run();
  prefetcher.reset();

  // model.pt: the best validation weights when there are any.
  const std::string best = train::Trainer::best_checkpoint_path(out);
  if (!val_cases.empty() && fs::exists(best)) train::load_checkpoint(best, *model, nullptr);
  nn::save_model(out + "/model.pt", model, config);
  const std::string curves = out + "/curves.png";
  train::plot_metrics_file(train::Trainer::metrics_path(out), curves);
  std::cout << "trained in " << format_seconds(seconds_since(start)) << "; best dice_mean "
            << std::fixed << std::setprecision(4) << summary.value("best_dice_mean", -1.0)
            << " (epoch " << summary.value("best_epoch", int64_t{0}) << ")\nwrote " << out
            << "/model.pt, " << curves << ", " << train::Trainer::metrics_path(out) << "\n";
  return 0;
}

}  // namespace revunet::cli

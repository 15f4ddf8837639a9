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

#include "revunet/bench/stage_planner.h"
#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/cli/pipeline.h"
#include "revunet/core/atomic_file.h"
#include "revunet/core/bytes.h"
#include "revunet/core/compat.h"
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

struct TrainFlags {
  std::string config, data, out, device = "cpu", mode, cache;
  int64_t epochs = 10, iterations_per_epoch = 50, batch = 2, warmup = 0, threads = 0;
  int64_t fold = -1, folds = 5, validate_every = 1, workers = 1, budget = 0;
  std::vector<int64_t> patch;
  double lr = 0.001, foreground = 0.5, val_fraction = 0.2, time_limit = 0, val_overlap = 0.5;
  uint64_t seed = 0;
  bool resume = false, bf16 = false, no_augment = false;
};

// --fold F of --folds K (data::kfold_split), else the first of round(1 / fraction) folds.
Split split_cases(std::vector<data::CaseFiles> cases, const TrainFlags& flags) {
  std::vector<std::string> ids;
  for (const auto& c : cases) ids.push_back(c.id);
  int folds = 0, fold = 0;
  if (flags.fold >= 0) {
    folds = static_cast<int>(flags.folds);
    fold = static_cast<int>(flags.fold);
  } else if (flags.val_fraction > 0) {
    folds = std::max(2, static_cast<int>(std::lround(1 / flags.val_fraction)));
  }
  Split split;
  const std::vector<int> assigned =
      folds > 0 ? data::kfold_split(ids, folds, flags.seed) : std::vector<int>(ids.size(), -1);
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

// The files a run writes into its folder (trainer checkpoints and metrics, the split, the model,
// the curves): the only names whose stale temporaries a new run removes there.
bool is_run_file(const std::string& name) {
  for (const char* own :
       {"last.pt", "best.pt", "model.pt", "metrics.jsonl", "split.json", "curves.png"}) {
    if (name == own) return true;
  }
  return false;
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

int run_train(const TrainFlags& flags) {
  // Every check that needs no data comes first: a bad flag never waits for cases to load.
  const auto start = Clock::now();
  const std::string& out = flags.out;
  const c10::Device device = core::parse_device(flags.device);
  if (flags.bf16 && !device.is_cuda()) {
    fail("--bf16", "bfloat16 autocast is for CUDA devices; drop it or use --device cuda");
  }
  if (flags.fold >= flags.folds) {
    fail("--fold", "must be in 0.." + std::to_string(flags.folds - 1) + " (--folds " +
                       std::to_string(flags.folds) + "), got " + std::to_string(flags.fold));
  }
  if (flags.resume && !fs::exists(train::Trainer::last_checkpoint_path(out))) {
    fail(train::Trainer::last_checkpoint_path(out),
         "nothing to resume from; start without --resume or point --out at the run");
  }
  // The run folder (and the cache) must take files before any case is read.
  prepare_output_folder("--out", out);
  const std::string cache_dir = flags.cache.empty() ? out + "/cache" : flags.cache;
  prepare_output_folder(flags.cache.empty() ? "--out" : "--cache", cache_dir);
  apply_threads(flags.threads);
  const uint64_t seed = flags.seed;

  nn::UNetConfig config = nn::load_unet_config(flags.config);
  if (!flags.patch.empty()) config.patch = flags.patch;
  if (config.patch.size() != 3) fail("--patch", "expected X,Y,Z");
  const bool auto_mode = flags.mode == "auto";
  if (flags.budget > 0 && !auto_mode) fail("--budget", "is the budget of --mode auto; add it");
  if (auto_mode && flags.budget <= 0 && !device.is_cuda()) {
    fail("--mode auto", "needs --budget on CPU, e.g. --budget 512MiB");
  }
  if (!flags.mode.empty() && !auto_mode) {
    config.mode = rev::parse_stack_mode(flags.mode);
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
  const int64_t batch = flags.batch;
  if (auto_mode) {
    // Per-stage modes for the budget, measured at this patch and batch (bench/stage_planner.h),
    // cached in RUNDIR/plan.json; the config then carries them into checkpoints and model.pt.
    bench::PlanOptions plan_options;
    plan_options.probe.device = device;
    plan_options.probe.bf16 = flags.bf16;
    plan_options.probe.seed = seed;
    plan_options.probe.batch = batch;
    plan_options.probe.budget_bytes =
        flags.budget > 0 ? flags.budget : compat::cuda_total_memory(device.index());
    plan_options.shape = patch;
    fs::create_directories(out);
    const std::string plan_path = out + "/plan.json";
    const nlohmann::json plan =
        bench::cached_or_new_plan(config, plan_options, plan_path, std::cout);
    if (!plan["fits"].get<bool>()) {
      fail("--budget", "no per-stage modes fit one training step at patch " +
                           std::to_string(patch[0]) + "x" + std::to_string(patch[1]) + "x" +
                           std::to_string(patch[2]) + ", batch " + std::to_string(batch) + " in " +
                           core::format_bytes(plan_options.probe.budget_bytes) +
                           "; the smallest budget that does is " +
                           core::format_bytes(plan["smallest_budget_bytes"].get<int64_t>()) + " (" +
                           plan_path + ")");
    }
    config = bench::with_plan(config, bench::plan_modes(plan, config, plan_path));
    std::cout << "plan: " << plan["modes"].dump() << ", predicted peak "
              << core::format_bytes(plan["predicted"]["peak_bytes"].get<int64_t>()) << ", measured "
              << core::format_bytes(plan["measured"]["peak_bytes"].get<int64_t>()) << "\n";
    if (device.is_cuda()) compat::cuda_empty_cache();
  }
  const int64_t workers = flags.workers;
  const double foreground = flags.foreground;
  const double overlap = flags.val_overlap;

  // Data: split, then load + preprocess each case once.
  const Split split = split_cases(find_cases(flags.data), flags);
  const data::CaseCache cache(cache_dir);
  // Temporaries a killed run left of this run's own files (a live run's are kept).
  const int stale = core::remove_stale_temporaries(out, is_run_file) +
                    core::remove_stale_temporaries(cache_dir, data::CaseCache::is_cache_file);
  if (stale > 0) {
    std::cout << "removed " << stale << " temporary file" << (stale == 1 ? "" : "s")
              << " left by a killed run\n";
  }
  const std::vector<CasePtr> train_cases = load_all(split.train, cache, "training");
  const std::vector<CasePtr> val_cases = load_all(split.validation, cache, "validation");
  const nlohmann::json split_json = {{"data", flags.data},
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
  const data::Augmenter augmenter(flags.no_augment ? data::AugmentOptions::none() : augment,
                                  seed + 1);
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
  std::cout << "model " << flags.config << ": " << nn::count_parameters(*model)
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
  options.epochs = flags.epochs;
  options.iterations_per_epoch = flags.iterations_per_epoch;
  options.validate_every = flags.validate_every;
  options.device = device;
  options.out_dir = out;
  options.resume = flags.resume;
  options.seed = seed;
  options.bf16_autocast = flags.bf16;
  options.optimizer.lr = flags.lr;
  options.time_limit_seconds = 60 * flags.time_limit;
  options.warmup_iterations = flags.warmup;

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

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  TrainFlags& f = *flags;
  app.footer(
      "RUNDIR gets last.pt and best.pt (checkpoints; --resume continues from last.pt), "
      "metrics.jsonl, curves.png, split.json and model.pt (best validation weights + config: what "
      "`revunet predict --model` takes; it also takes last.pt or best.pt).");
  app.add_option("--config", f.config, "model config (JSON), e.g. configs/tiny.json")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--data", f.data, "folder of BraTS cases (with masks)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--out", f.out, "run folder (RUNDIR)")->required();
  add_device_flag(app, f.device);
  app.add_option("--epochs", f.epochs, "number of epochs")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--iterations-per-epoch", f.iterations_per_epoch, "optimiser steps per epoch")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--batch", f.batch, "patches per step")->capture_default_str()->check(at_least(1));
  add_int_list(app, "--patch", f.patch, "patch X,Y,Z (default: the config's patch)", 3)
      ->check(at_least(8));
  app.add_option("--mode", f.mode,
                 "run every stage reversible, checkpoint or plain, or auto: per-stage modes "
                 "planned for --budget (RUNDIR/plan.json; default: the config's modes)")
      ->check(parsed_by([](const std::string& text) {
        if (text != "auto") rev::parse_stack_mode(text);
      }));
  app.add_option("--budget", f.budget,
                 "memory budget of one training step for --mode auto, e.g. 512MiB (default on "
                 "CUDA: the GPU's memory)")
      ->transform(byte_size());
  app.add_option("--lr", f.lr, "peak learning rate (AdamW, poly decay)")
      ->capture_default_str()
      ->check(positive());
  app.add_option("--warmup", f.warmup, "warm-up iterations")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--foreground", f.foreground, "fraction of patches centred on tumour")
      ->capture_default_str()
      ->check(in_range(0, 1));
  add_seed_flag(app, f.seed, "random seed (split, sampling, weights)");
  add_threads_flag(app, f.threads);
  CLI::Option* val_fraction =
      app.add_option("--val-fraction", f.val_fraction,
                     "held-out fraction when no --fold is given (0 = no validation)")
          ->capture_default_str()
          ->check(in_range(0, 1, "[)"));
  CLI::Option* fold = app.add_option("--fold", f.fold, "validation fold of a k-fold split")
                          ->check(at_least(0))
                          ->excludes(val_fraction);
  app.add_option("--folds", f.folds, "number of folds for --fold")
      ->capture_default_str()
      ->check(at_least(2))
      ->needs(fold);
  app.add_option("--validate-every", f.validate_every,
                 "epochs between validations (0 = never; the last epoch always validates)")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--time-limit", f.time_limit,
                 "minutes: end (validated and saved) after the last epoch that fits "
                 "(0 = none; --resume continues)")
      ->capture_default_str()
      ->check(at_least(0));
  app.add_option("--val-overlap", f.val_overlap, "sliding-window overlap during validation")
      ->capture_default_str()
      ->check(in_range(0, 1, "[)"));
  app.add_option("--workers", f.workers, "batch prefetch threads")
      ->capture_default_str()
      ->check(at_least(1));
  app.add_option("--cache", f.cache, "preprocessed-case cache folder (default RUNDIR/cache)");
  app.add_flag("--resume", f.resume, "continue from RUNDIR/last.pt");
  app.add_flag("--bf16", f.bf16, "bfloat16 autocast (CUDA only)");
  app.add_flag("--no-augment", f.no_augment, "no augmentation (patches as sampled)");
  return [flags] { return run_train(*flags); };
}

}  // namespace revunet::cli

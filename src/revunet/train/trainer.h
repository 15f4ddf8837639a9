// The training loop: epochs of a fixed number of optimiser steps, gradient accumulation and
// clipping, an iteration-indexed learning-rate schedule, validation every K epochs, `last.pt` and
// `best.pt` checkpoints, exact resume, per-epoch metrics in `metrics.jsonl` and a progress line.
//
// The trainer knows nothing of the network or the data pipeline: it is handed a module (for its
// parameters and checkpoints), a forward function and a batch source.
#pragma once

#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "revunet/train/loss.h"
#include "revunet/train/optim.h"
#include "revunet/train/progress.h"

namespace revunet::train {

// A batch as the data pipeline hands it over: image {B, 4, X, Y, Z}, target {B, 3, X, Y, Z} 0/1.
struct TrainBatch {
  torch::Tensor image;
  torch::Tensor target;
};

enum class ProgressMode {
  kAuto,   // redraw in place on a terminal, one line per epoch otherwise
  kTty,    // always redraw in place
  kPlain,  // one line per epoch
  kOff,
};

struct TrainerOptions {
  int64_t epochs = 1;
  int64_t iterations_per_epoch = 1;  // optimiser steps per epoch
  int64_t validate_every = 1;        // epochs; 0 = never (the last epoch is always validated)
  // Wall-clock budget of this process's run (0: none). The run ends after the epoch past which
  // another epoch as long as the last one would exceed it; that epoch is validated and saved.
  double time_limit_seconds = 0;
  int64_t accumulate = 1;      // micro-batches per optimiser step
  double clip_norm = 12;       // global gradient norm; <= 0: no clipping
  bool bf16_autocast = false;  // CUDA only: forward under bfloat16 autocast
  c10::Device device = c10::kCPU;
  std::string out_dir;  // last.pt, best.pt, metrics.jsonl
  bool resume = false;  // continue from out_dir/last.pt
  uint64_t seed = 0;    // seeds LibTorch's generators at the start of a fresh run
  OptimizerOptions optimizer;
  int64_t warmup_iterations = 0;
  DecayKind decay = DecayKind::kPoly;
  double lr_floor = 0;
  LossOptions loss;
  std::vector<double> deep_supervision_weights;  // empty: halving per level
  TargetDownsample deep_supervision_downsample = TargetDownsample::kMaxPool;
  ProgressMode progress = ProgressMode::kAuto;
  std::ostream* progress_stream = nullptr;  // nullptr: std::cout
};

struct TrainerCallbacks {
  // Model outputs: full-resolution logits first, then deep-supervision outputs (if any).
  std::function<std::vector<torch::Tensor>(const torch::Tensor&)> forward;
  // The next training micro-batch (on any device; moved to options.device).
  std::function<TrainBatch()> next_batch;
  // Validation metrics, e.g. {"dice_WT", "dice_TC", "dice_ET", "dice_mean"}; "dice_mean" picks
  // best.pt. Called with the model in eval mode and gradients off. Optional.
  std::function<nlohmann::json()> validate;
  // The data pipeline's state (its RNG), saved in checkpoints and restored on resume. Optional.
  std::function<std::string()> save_data_state;
  std::function<void(const std::string&)> restore_data_state;
  // Called after an epoch's metrics and checkpoints are written (with its metrics line). Optional.
  std::function<void(const nlohmann::json&)> on_epoch_end;
};

class Trainer {
 public:
  // `model_config` and `data_split` are JSON texts stored in every checkpoint.
  Trainer(std::shared_ptr<torch::nn::Module> model, TrainerCallbacks callbacks,
          TrainerOptions options, std::string model_config, std::string data_split = "{}");
  ~Trainer();

  // Trains (resuming first when asked) until options.epochs; returns a summary:
  // {"epochs", "iteration", "final_train_loss", "best_dice_mean", "best_epoch", "resumed_from"}.
  nlohmann::json run();

  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const LrSchedule& schedule() const { return schedule_; }

  static std::string last_checkpoint_path(const std::string& out_dir);
  static std::string best_checkpoint_path(const std::string& out_dir);
  static std::string metrics_path(const std::string& out_dir);

 private:
  struct EpochStats;
  ProgressLine progress_line() const;
  void resume_from_last();
  EpochStats train_epoch(int64_t epoch);
  torch::Tensor micro_batch_loss();
  void write_epoch(int64_t epoch, const EpochStats& stats, const nlohmann::json& validation);

  std::shared_ptr<torch::nn::Module> model_;
  TrainerCallbacks callbacks_;
  TrainerOptions options_;
  std::string model_config_;
  std::string data_split_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  LrSchedule schedule_;
  int64_t epoch_ = 0;      // completed epochs
  int64_t iteration_ = 0;  // completed optimiser steps
  double best_dice_ = -1;
  int64_t best_epoch_ = 0;
  int64_t resumed_from_ = -1;
};

}  // namespace revunet::train

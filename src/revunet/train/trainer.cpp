#include "revunet/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "revunet/core/compat.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/memory.h"
#include "revunet/core/run_info.h"
#include "revunet/train/checkpoint.h"
#include "revunet/train/progress.h"

namespace revunet::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

LrScheduleOptions schedule_options(const TrainerOptions& o) {
  LrScheduleOptions s;
  s.base_lr = o.optimizer.lr;
  s.warmup_iterations = o.warmup_iterations;
  s.total_iterations = o.epochs * o.iterations_per_epoch;
  s.decay = o.decay;
  s.floor = o.lr_floor;
  return s;
}

const TrainerOptions& checked(const TrainerOptions& o) {
  if (o.epochs < 1) fail("--epochs", "must be at least 1, got " + std::to_string(o.epochs));
  if (o.iterations_per_epoch < 1) {
    fail("--iterations", "must be at least 1, got " + std::to_string(o.iterations_per_epoch));
  }
  if (o.accumulate < 1) {
    fail("--accumulate", "must be at least 1, got " + std::to_string(o.accumulate));
  }
  if (o.validate_every < 0) fail("--validate-every", "must be 0 (never) or more");
  if (o.out_dir.empty()) fail("--out", "an output folder is needed for checkpoints and metrics");
  if (o.bf16_autocast && !o.device.is_cuda()) {
    fail("--bf16", "bfloat16 autocast is for CUDA devices; drop it or use --device cuda");
  }
  return o;
}

// Keeps the metrics lines of epochs up to `epoch`: a run killed after writing metrics but before
// its checkpoint repeats that epoch on resume, and must not log it twice.
void trim_metrics(const std::string& path, int64_t epoch) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      if (nlohmann::json::parse(line).value("epoch", int64_t{0}) > epoch) continue;
    } catch (const nlohmann::json::exception&) {
      continue;  // a line cut short by the kill
    }
    kept += line + "\n";
  }
  core::write_file_atomically(path, kept);
}

// Equal as JSON values when both parse (key order and spacing do not matter), else as text.
// The same model config, stage modes aside: a mode changes only what a step stores, never the
// function or the weights (tests/bench/test_stage_planner.cpp), so a run may resume under other
// modes, e.g. a `--mode auto` plan re-made for another GPU.
bool same_model_config(const std::string& a, const std::string& b) {
  auto ja = nlohmann::json::parse(a, nullptr, /*allow_exceptions=*/false);
  auto jb = nlohmann::json::parse(b, nullptr, /*allow_exceptions=*/false);
  if (ja.is_discarded() || jb.is_discarded()) return a == b;
  for (auto* j : {&ja, &jb}) {
    if (!j->is_object()) continue;
    j->erase("mode");
    j->erase("stage_modes");
  }
  return ja == jb;
}

}  // namespace

struct Trainer::EpochStats {
  double loss = 0, bce = 0, dice = 0, grad_norm = 0;
  int64_t skipped = 0;
  double lr = 0;
  double seconds = 0;
  double it_per_s = 0;
  int64_t peak_bytes = -1;
};

std::string Trainer::last_checkpoint_path(const std::string& out_dir) {
  return (fs::path(out_dir) / "last.pt").string();
}
std::string Trainer::best_checkpoint_path(const std::string& out_dir) {
  return (fs::path(out_dir) / "best.pt").string();
}
std::string Trainer::metrics_path(const std::string& out_dir) {
  return (fs::path(out_dir) / "metrics.jsonl").string();
}

Trainer::Trainer(std::shared_ptr<torch::nn::Module> model, TrainerCallbacks callbacks,
                 TrainerOptions options, std::string model_config, std::string data_split)
    : model_(std::move(model)),
      callbacks_(std::move(callbacks)),
      options_(checked(options)),
      model_config_(std::move(model_config)),
      data_split_(std::move(data_split)),
      schedule_(schedule_options(options_)) {
  TORCH_CHECK(model_ != nullptr, "Trainer: no model given");
  TORCH_CHECK(callbacks_.forward && callbacks_.next_batch,
              "Trainer: the forward and next_batch callbacks are required");
  model_->to(options_.device);
  parameters_ = model_->parameters();
  optimizer_ = make_optimizer(parameters_, options_.optimizer);
}

Trainer::~Trainer() = default;

ProgressLine Trainer::progress_line() const {
  std::ostream& out = options_.progress_stream ? *options_.progress_stream : std::cout;
  const bool redraw = options_.progress == ProgressMode::kTty ||
                      (options_.progress == ProgressMode::kAuto && !options_.progress_stream &&
                       stdout_is_terminal());
  return ProgressLine(out, redraw);
}

void Trainer::resume_from_last() {
  const std::string path = last_checkpoint_path(options_.out_dir);
  if (!fs::exists(path)) {
    fail(path, "nothing to resume from; start without --resume or point --out at the run");
  }
  const LoadedCheckpoint loaded = load_checkpoint(path, *model_, optimizer_.get());
  if (!same_model_config(loaded.state.model_config, model_config_)) {
    fail(path, "was written for another model config; resume with the same config");
  }
  epoch_ = loaded.state.epoch;
  iteration_ = loaded.state.iteration;
  best_dice_ = loaded.state.trainer.value("best_dice_mean", -1.0);
  best_epoch_ = loaded.state.trainer.value("best_epoch", int64_t{0});
  resumed_from_ = epoch_;
  if (callbacks_.restore_data_state) callbacks_.restore_data_state(loaded.state.data_state);
  loaded.rng.restore();
  trim_metrics(metrics_path(options_.out_dir), epoch_);
}

torch::Tensor Trainer::micro_batch_loss() {
  const TrainBatch batch = callbacks_.next_batch();
  TORCH_CHECK(batch.image.defined() && batch.target.defined(),
              "Trainer: next_batch returned an undefined image or target");
  const torch::Tensor image = batch.image.to(options_.device, /*non_blocking=*/true);
  const torch::Tensor target = batch.target.to(options_.device, torch::kFloat, true);
  std::vector<torch::Tensor> outputs;
  if (options_.bf16_autocast) {
    compat::AutocastState autocast = compat::AutocastState::current();
    autocast.cuda_enabled = true;
    autocast.cuda_dtype = torch::kBFloat16;
    compat::AutocastGuard guard(autocast);
    outputs = callbacks_.forward(image);
  } else {
    outputs = callbacks_.forward(image);
  }
  return deep_supervision_loss(outputs, target, options_.loss, options_.deep_supervision_weights,
                               options_.deep_supervision_downsample)
      .total;
}

Trainer::EpochStats Trainer::train_epoch(int64_t epoch) {
  ProgressLine progress = progress_line();

  EpochStats stats;
  // CPU peaks need the tracking allocator; installing it is the caller's decision (it replaces the
  // process's CPU allocator), so without it the peak is reported as unknown.
  std::optional<core::PeakMemoryScope> memory;
  if (options_.device.is_cuda() || core::CpuMemoryTracker::installed()) {
    memory.emplace(options_.device);
  }
  const auto start = Clock::now();
  const int64_t steps = options_.iterations_per_epoch;
  const int64_t total = options_.epochs * steps;
  for (int64_t i = 0; i < steps; ++i) {
    stats.lr = schedule_.at(iteration_);
    set_learning_rate(*optimizer_, stats.lr);
    const StepResult step =
        accumulated_step(*optimizer_, parameters_, options_.accumulate, options_.clip_norm,
                         [this](int64_t) { return micro_batch_loss(); });
    ++iteration_;
    stats.loss += step.loss;
    stats.grad_norm += step.grad_norm;
    stats.skipped += step.stepped ? 0 : 1;

    if (options_.progress != ProgressMode::kOff) {
      ProgressState state;
      state.epoch = epoch;
      state.epochs = options_.epochs;
      state.step = i + 1;
      state.steps = steps;
      state.loss = stats.loss / static_cast<double>(i + 1);
      state.it_per_s = static_cast<double>(i + 1) / seconds_since(start);
      state.eta_seconds = static_cast<double>(total - iteration_) / state.it_per_s;
      state.peak_bytes = memory ? memory->peak_bytes() : -1;
      progress.update(state);
    }
  }
  stats.loss /= static_cast<double>(steps);
  stats.grad_norm /= static_cast<double>(steps);
  stats.seconds = seconds_since(start);
  stats.it_per_s = static_cast<double>(steps) / stats.seconds;
  stats.peak_bytes = memory ? memory->peak_bytes() : -1;
  return stats;
}

void Trainer::write_epoch(int64_t epoch, const EpochStats& stats,
                          const nlohmann::json& validation) {
  nlohmann::json line = {
      {"epoch", epoch},
      {"iteration", iteration_},
      {"train_loss", stats.loss},
      {"grad_norm", stats.grad_norm},
      {"skipped_steps", stats.skipped},
      {"lr", stats.lr},
      {"seconds", stats.seconds},
      {"it_per_s", stats.it_per_s},
      {"peak_bytes", stats.peak_bytes >= 0 ? nlohmann::json(stats.peak_bytes) : nlohmann::json()}};
  if (!validation.is_null()) line["validation"] = validation;
  {
    const std::string path = metrics_path(options_.out_dir);
    std::ofstream out(path, std::ios::app);
    out << line.dump() << "\n";
    out.flush();
    if (!out) fail(path, "cannot append the epoch's metrics (disk full?)");
  }

  bool improved = false;
  if (validation.is_object() && validation.contains("dice_mean") &&
      validation["dice_mean"].is_number()) {
    const double dice = validation["dice_mean"].get<double>();
    if (dice > best_dice_) {
      best_dice_ = dice;
      best_epoch_ = epoch;
      improved = true;
    }
  }

  CheckpointState state;
  state.epoch = epoch;
  state.iteration = iteration_;
  state.model_config = model_config_;
  state.data_split = data_split_;
  if (callbacks_.save_data_state) state.data_state = callbacks_.save_data_state();
  state.trainer = {{"best_dice_mean", best_dice_},
                   {"best_epoch", best_epoch_},
                   {"seed", options_.seed},
                   {"epochs", options_.epochs},
                   {"iterations_per_epoch", options_.iterations_per_epoch}};
  const RngStates rng = RngStates::capture();
  // best.pt first: a kill between the two writes leaves last.pt one epoch behind, never a
  // best.pt older than last.pt claims.
  if (improved) {
    save_checkpoint(best_checkpoint_path(options_.out_dir), *model_, optimizer_.get(), state, rng);
  }
  save_checkpoint(last_checkpoint_path(options_.out_dir), *model_, optimizer_.get(), state, rng);

  if (options_.progress != ProgressMode::kOff) {
    ProgressState s;
    s.epoch = epoch;
    s.epochs = options_.epochs;
    s.step = s.steps = options_.iterations_per_epoch;
    s.loss = stats.loss;
    s.it_per_s = stats.it_per_s;
    s.eta_seconds = static_cast<double>(options_.epochs - epoch) * stats.seconds;
    s.peak_bytes = stats.peak_bytes;
    std::ostringstream extra;
    if (validation.is_object()) {
      extra.setf(std::ios::fixed);
      extra.precision(4);
      for (const auto& [key, value] : validation.items()) {
        if (value.is_number()) extra << "  " << key << " " << value.get<double>();
      }
      if (improved) extra << "  (best)";
    }
    progress_line().finish(s, extra.str());
  }
  if (callbacks_.on_epoch_end) callbacks_.on_epoch_end(line);
}

nlohmann::json Trainer::run() {
  fs::create_directories(options_.out_dir);
  if (options_.resume) {
    resume_from_last();
  } else {
    core::seed_everything(options_.seed);
    core::write_file_atomically(metrics_path(options_.out_dir), "");
  }
  double last_loss = 0;
  bool out_of_time = false;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = epoch_ + 1; epoch <= options_.epochs && !out_of_time; ++epoch) {
    model_->train();
    const EpochStats stats = train_epoch(epoch);
    last_loss = stats.loss;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out_of_time = options_.time_limit_seconds > 0 && epoch < options_.epochs &&
                  elapsed + stats.seconds > options_.time_limit_seconds;
    nlohmann::json validation;
    const bool due = (options_.validate_every > 0 && epoch % options_.validate_every == 0) ||
                     epoch == options_.epochs || out_of_time;
    if (callbacks_.validate && due) {
      model_->eval();
      torch::NoGradGuard no_grad;
      validation = callbacks_.validate();
      model_->train();
    }
    epoch_ = epoch;
    write_epoch(epoch, stats, validation);
  }
  return {{"epochs", epoch_},
          {"iteration", iteration_},
          {"final_train_loss", last_loss},
          {"best_dice_mean", best_dice_},
          {"best_epoch", best_epoch_},
          {"resumed_from", resumed_from_},
          {"stopped_by_time_limit", out_of_time},
          {"out_dir", options_.out_dir}};
}

}  // namespace revunet::train

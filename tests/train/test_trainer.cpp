#include "revunet/train/trainer.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>

#include "revunet/core/error.h"
#include "revunet/train/checkpoint.h"

namespace revunet::train {
namespace {

namespace fs = std::filesystem;
constexpr const char* kChildEnv = "REVUNET_TEST_TRAINER_CHILD_DIR";

// A tiny segmentation net with a dropout (so the RNG state matters) and a half-resolution
// deep-supervision head.
struct TinySegNetImpl : torch::nn::Module {
  TinySegNetImpl() {
    body = register_module("body", torch::nn::Conv3d(torch::nn::Conv3dOptions(4, 6, 3).padding(1)));
    drop = register_module("drop", torch::nn::Dropout(0.2));
    head = register_module("head", torch::nn::Conv3d(torch::nn::Conv3dOptions(6, 3, 1)));
  }
  std::vector<torch::Tensor> forward(const torch::Tensor& x) {
    const torch::Tensor h = drop(torch::relu(body(x)));
    return {head(h), head(torch::avg_pool3d(h, 2))};
  }
  torch::nn::Conv3d body{nullptr}, head{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(TinySegNet);

// Batches from a std::mt19937_64 whose state is the "data pipeline state".
class SyntheticBatches {
 public:
  explicit SyntheticBatches(uint64_t seed) : rng_(seed) {}
  TrainBatch next(int64_t batch = 2, int64_t size = 8) {
    std::normal_distribution<float> normal;
    torch::Tensor image = torch::empty({batch, 4, size, size, size});
    float* p = image.data_ptr<float>();
    for (int64_t i = 0; i < image.numel(); ++i) p[i] = normal(rng_);
    const torch::Tensor target =
        torch::stack({image.select(1, 0) > 0.3, image.select(1, 1) > 0.8, image.select(1, 2) > 1.2},
                     1)
            .to(torch::kFloat);
    return {image, target};
  }
  std::string state() const {
    std::ostringstream s;
    s << rng_;
    return s.str();
  }
  void restore(const std::string& state) {
    std::istringstream s(state);
    s >> rng_;
  }

 private:
  std::mt19937_64 rng_;
};

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() /
                       ("revunet_test_trainer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::vector<nlohmann::json> read_metrics(const fs::path& dir) {
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

struct Run {
  TinySegNet model;
  SyntheticBatches data{17};
  std::unique_ptr<Trainer> trainer;
};

// The same model, data and options for every run of the resume test; `model_seed` only sets the
// initial weights (a resumed run must overwrite them from the checkpoint).
std::unique_ptr<Run> make_run(const fs::path& dir, bool resume, uint64_t model_seed,
                              std::function<void(const nlohmann::json&)> on_epoch_end = {}) {
  auto run = std::make_unique<Run>();
  torch::manual_seed(model_seed);
  run->model = TinySegNet();
  TinySegNet model = run->model;
  SyntheticBatches* data = &run->data;

  TrainerCallbacks cb;
  cb.forward = [model](const torch::Tensor& x) mutable { return model->forward(x); };
  cb.next_batch = [data] { return data->next(); };
  cb.save_data_state = [data] { return data->state(); };
  cb.restore_data_state = [data](const std::string& s) { data->restore(s); };
  cb.validate = [model]() mutable {
    SyntheticBatches fixed(5);
    const TrainBatch b = fixed.next(2, 8);
    const torch::Tensor pred = (model->forward(b.image)[0] > 0).to(torch::kFloat);
    const torch::Tensor inter = (pred * b.target).sum({0, 2, 3, 4});
    const torch::Tensor dice =
        (2 * inter + 1e-5) / (pred.sum({0, 2, 3, 4}) + b.target.sum({0, 2, 3, 4}) + 1e-5);
    return nlohmann::json{{"dice_WT", dice[0].item<double>()},
                          {"dice_TC", dice[1].item<double>()},
                          {"dice_ET", dice[2].item<double>()},
                          {"dice_mean", dice.mean().item<double>()}};
  };
  cb.on_epoch_end = std::move(on_epoch_end);

  TrainerOptions o;
  o.epochs = 4;
  o.iterations_per_epoch = 3;
  o.accumulate = 2;
  o.clip_norm = 1.0;
  o.warmup_iterations = 2;
  o.optimizer.lr = 3e-3;
  o.out_dir = dir.string();
  o.resume = resume;
  o.seed = 123;
  o.progress = ProgressMode::kOff;
  run->trainer = std::make_unique<Trainer>(run->model.ptr(), cb, o, R"({"net": "tiny"})");
  return run;
}

// Runs only inside the child process the resume test starts: trains, and SIGKILLs itself right
// after the epoch-2 checkpoint is on disk.
TEST(TrainerResumeChild, TrainsUntilKilledAfterEpochTwo) {
  const char* dir = std::getenv(kChildEnv);
  if (!dir) GTEST_SKIP() << "helper of Trainer.ResumeAfterSigkillIsBitIdentical (child only)";
  torch::set_num_threads(1);
  auto run = make_run(dir, false, 11, [](const nlohmann::json& line) {
    if (line["epoch"] == 2) std::raise(SIGKILL);
  });
  run->trainer->run();
  FAIL() << "the child should have been killed after epoch 2";
}

TEST(Trainer, ResumeAfterSigkillIsBitIdentical) {
  torch::set_num_threads(1);
  const fs::path straight = fresh_dir("straight"), killed = fresh_dir("killed");

  auto reference = make_run(straight, false, 11);
  const nlohmann::json summary = reference->trainer->run();
  EXPECT_EQ(summary["epochs"], 4);
  EXPECT_EQ(summary["iteration"], 12);

  // A fresh process that trains and dies by SIGKILL after epoch 2.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv(kChildEnv, killed.c_str(), 1);
    ::setenv("OMP_NUM_THREADS", "1", 1);
    const char* argv[] = {"/proc/self/exe",
                          "--gtest_filter=TrainerResumeChild.TrainsUntilKilledAfterEpochTwo",
                          nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child status " << status << " (exit " << WEXITSTATUS(status) << ")";
  ASSERT_EQ(read_metrics(killed).size(), 2u);

  // Resume with other initial weights: everything must come from last.pt.
  auto resumed = make_run(killed, true, 999);
  const nlohmann::json resumed_summary = resumed->trainer->run();
  EXPECT_EQ(resumed_summary["resumed_from"], 2);

  const auto a = reference->model->named_parameters();
  const auto b = resumed->model->named_parameters();
  for (const auto& item : a) {
    EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key() << " differs";
  }
  const auto ma = read_metrics(straight), mb = read_metrics(killed);
  ASSERT_EQ(ma.size(), 4u);
  ASSERT_EQ(mb.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(mb[i]["epoch"], static_cast<int64_t>(i + 1));
    EXPECT_EQ(ma[i]["train_loss"], mb[i]["train_loss"]) << "epoch " << i + 1;
    EXPECT_EQ(ma[i]["lr"], mb[i]["lr"]);
    EXPECT_EQ(ma[i]["validation"], mb[i]["validation"]);
  }
  fs::remove_all(straight);
  fs::remove_all(killed);
}

// A small model and data whose validation counts its calls; the n-th reports dice_mean(n).
struct CountingRun {
  TinySegNet model;
  SyntheticBatches data{4};
  int validations = 0;
  TrainerCallbacks callbacks;
};

std::unique_ptr<CountingRun> counting_run(std::function<double(int)> dice_mean) {
  torch::set_num_threads(1);
  torch::manual_seed(3);
  auto run = std::make_unique<CountingRun>();
  CountingRun* r = run.get();
  run->callbacks.forward = [r](const torch::Tensor& x) { return r->model->forward(x); };
  run->callbacks.next_batch = [r] { return r->data.next(); };
  run->callbacks.validate = [r, dice_mean] {
    ++r->validations;
    return nlohmann::json{{"dice_mean", dice_mean(r->validations)}};
  };
  return run;
}

TEST(Trainer, WritesMetricsCheckpointsAndProgressLines) {
  const fs::path dir = fresh_dir("metrics");
  auto run = counting_run([](int n) { return 0.1 * n; });
  TinySegNet model = run->model;
  const TrainerCallbacks& cb = run->callbacks;
  const int& validations = run->validations;
  TrainerOptions o;
  o.epochs = 3;
  o.iterations_per_epoch = 2;
  o.validate_every = 2;
  o.out_dir = dir.string();
  o.progress = ProgressMode::kPlain;
  std::ostringstream progress;
  o.progress_stream = &progress;
  Trainer trainer(model.ptr(), cb, o, "{}");
  const nlohmann::json summary = trainer.run();

  EXPECT_EQ(validations, 2);  // epoch 2, and the last epoch
  EXPECT_EQ(summary["best_epoch"], 3);
  const auto lines = read_metrics(dir);
  ASSERT_EQ(lines.size(), 3u);
  for (const char* key : {"epoch", "iteration", "train_loss", "lr", "seconds", "it_per_s",
                          "peak_bytes", "grad_norm"}) {
    EXPECT_TRUE(lines[0].contains(key)) << key;
  }
  EXPECT_FALSE(lines[0].contains("validation"));
  EXPECT_EQ(lines[1]["validation"]["dice_mean"], 0.1);
  // Null without the CPU tracking allocator (installing it is the caller's choice).
  EXPECT_TRUE(lines[2]["peak_bytes"].is_null() || lines[2]["peak_bytes"].get<int64_t>() > 0);
  EXPECT_EQ(lines[2]["iteration"], 6);
  EXPECT_TRUE(fs::exists(dir / "last.pt"));
  EXPECT_TRUE(fs::exists(dir / "best.pt"));
  // One plain line per epoch, no carriage returns.
  const std::string text = progress.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("epoch 3/3"), std::string::npos) << text;
  fs::remove_all(dir);
}

TEST(Trainer, ATimeLimitEndsTheRunAfterAValidatedEpoch) {
  const fs::path dir = fresh_dir("timelimit");
  auto run = counting_run([](int) { return 0.5; });
  TinySegNet model = run->model;
  const TrainerCallbacks& cb = run->callbacks;
  const int& validations = run->validations;
  TrainerOptions o;
  o.epochs = 5;
  o.iterations_per_epoch = 2;
  o.validate_every = 0;         // only the last epoch; the time limit makes epoch 1 the last
  o.time_limit_seconds = 1e-9;  // any epoch takes longer than this
  o.out_dir = dir.string();
  o.progress = ProgressMode::kOff;
  Trainer trainer(model.ptr(), cb, o, "{}");
  const nlohmann::json summary = trainer.run();
  EXPECT_EQ(summary["epochs"], 1);
  EXPECT_EQ(summary["stopped_by_time_limit"], true);
  EXPECT_EQ(validations, 1);
  EXPECT_EQ(read_metrics(dir).size(), 1u);
  EXPECT_TRUE(fs::exists(dir / "last.pt"));

  // Resuming without a limit finishes the remaining epochs.
  TrainerOptions resumed = o;
  resumed.time_limit_seconds = 0;
  resumed.resume = true;
  Trainer again(model.ptr(), cb, resumed, "{}");
  const nlohmann::json rest = again.run();
  EXPECT_EQ(rest["epochs"], 5);
  EXPECT_EQ(rest["stopped_by_time_limit"], false);
  fs::remove_all(dir);
}

TEST(Trainer, ResumeWithoutACheckpointIsAClearError) {
  const fs::path dir = fresh_dir("noresume");
  auto run = make_run(dir, true, 1);
  try {
    run->trainer->run();
    FAIL() << "expected an error";
  } catch (const revunet::Error& e) {
    EXPECT_NE(std::string(e.what()).find("last.pt"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Trainer, Bf16AutocastOnCudaTrainsAndCheckpointsCudaRng) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device";
  const fs::path dir = fresh_dir("cuda");
  torch::manual_seed(6);
  TinySegNet model;
  SyntheticBatches data(8);
  TrainerCallbacks cb;
  cb.forward = [model](const torch::Tensor& x) mutable {
    auto out = model->forward(x);
    EXPECT_EQ(out[0].scalar_type(), torch::kBFloat16);  // autocast is on inside forward
    return out;
  };
  cb.next_batch = [&data] { return data.next(); };
  TrainerOptions o;
  o.epochs = 2;
  o.iterations_per_epoch = 3;
  o.device = torch::Device(torch::kCUDA, 0);
  o.bf16_autocast = true;
  o.out_dir = dir.string();
  o.progress = ProgressMode::kOff;
  Trainer trainer(model.ptr(), cb, o, "{}");
  trainer.run();
  const auto lines = read_metrics(dir);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(std::isfinite(lines[1]["train_loss"].get<double>()));
  EXPECT_GT(lines[1]["peak_bytes"].get<int64_t>(), 0);
  // The checkpoint carries the CUDA generator state and restores it.
  TinySegNet other;
  other->to(o.device);
  const LoadedCheckpoint loaded = load_checkpoint((dir / "last.pt").string(), *other, nullptr);
  ASSERT_FALSE(loaded.rng.cuda.empty());
  loaded.rng.restore();
  const torch::Tensor first = torch::rand({4}, o.device);
  loaded.rng.restore();
  EXPECT_TRUE(torch::equal(torch::rand({4}, o.device), first));
  for (const auto& item : model->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), other->named_parameters()[item.key()]));
  }
  fs::remove_all(dir);
}

TEST(Trainer, RejectsBf16OnCpu) {
  TrainerOptions o;
  o.bf16_autocast = true;
  o.out_dir = "unused";
  TinySegNet model;
  TrainerCallbacks cb;
  cb.forward = [model](const torch::Tensor& x) mutable { return model->forward(x); };
  cb.next_batch = [] { return TrainBatch{}; };
  EXPECT_THROW(Trainer(model.ptr(), cb, o, "{}"), revunet::Error);
}

}  // namespace
}  // namespace revunet::train

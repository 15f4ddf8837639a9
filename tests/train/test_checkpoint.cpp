#include "revunet/train/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "revunet/core/atomic_file.h"
#include "revunet/core/error.h"
#include "revunet/train/optim.h"

namespace revunet::train {
namespace {

namespace fs = std::filesystem;

struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl() {
    conv = register_module("conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(2, 3, 3).padding(1)));
    norm = register_module("norm", torch::nn::BatchNorm3d(3));
  }
  torch::Tensor forward(const torch::Tensor& x) { return norm(conv(x)); }
  torch::nn::Conv3d conv{nullptr};
  torch::nn::BatchNorm3d norm{nullptr};
};
TORCH_MODULE(TinyNet);

fs::path checkpoint_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("revunet_test_ckpt_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void train_steps(TinyNet& net, torch::optim::Optimizer& opt, int steps) {
  for (int i = 0; i < steps; ++i) {
    opt.zero_grad();
    net->forward(torch::randn({2, 2, 4, 4, 4})).pow(2).mean().backward();
    opt.step();
  }
}

void expect_same_tensors(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  const auto ba = a.named_buffers(), bb = b.named_buffers();
  for (const auto& item : ba) EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << item.key();
}

TEST(Checkpoint, RoundTripRestoresWeightsOptimizerStateRngAndFields) {
  const fs::path dir = checkpoint_dir("roundtrip");
  torch::manual_seed(7);
  TinyNet a;
  auto opt_a = make_optimizer(a->parameters(), OptimizerOptions{});
  train_steps(a, *opt_a, 3);

  CheckpointState state;
  state.epoch = 3;
  state.iteration = 42;
  state.model_config = R"({"channels": 3})";
  state.data_state = std::string("rng\0state\xff", 10);  // opaque bytes, NUL included
  state.data_split = R"({"train": ["a"], "val": ["b"]})";
  state.trainer = {{"best_dice_mean", 0.5}};
  const std::string path = (dir / "last.pt").string();
  save_checkpoint(path, *a, opt_a.get(), state);
  const torch::Tensor expected_draw = torch::rand({5});  // what the RNG gives after the save

  torch::manual_seed(99);
  TinyNet b;
  auto opt_b = make_optimizer(b->parameters(), OptimizerOptions{});
  const LoadedCheckpoint loaded = load_checkpoint(path, *b, opt_b.get());
  expect_same_tensors(*a, *b);
  EXPECT_EQ(loaded.state.epoch, 3);
  EXPECT_EQ(loaded.state.iteration, 42);
  EXPECT_EQ(loaded.state.model_config, state.model_config);
  EXPECT_EQ(loaded.state.data_state, state.data_state);
  EXPECT_EQ(loaded.state.data_split, state.data_split);
  EXPECT_EQ(loaded.state.trainer, state.trainer);
  loaded.rng.restore();
  EXPECT_TRUE(torch::equal(torch::rand({5}), expected_draw));

  // Optimiser state: the same further steps from the same RNG give bit-identical weights (AdamW's
  // moments and step count must all have come back).
  loaded.rng.restore();
  train_steps(a, *opt_a, 2);
  loaded.rng.restore();
  train_steps(b, *opt_b, 2);
  expect_same_tensors(*a, *b);
  fs::remove_all(dir);
}

TEST(Checkpoint, ReadStateWithoutAModel) {
  const fs::path dir = checkpoint_dir("state");
  TinyNet a;
  CheckpointState state;
  state.epoch = 2;
  state.model_config = R"({"x": 1})";
  save_checkpoint((dir / "w.pt").string(), *a, nullptr, state);
  EXPECT_EQ(read_checkpoint_state((dir / "w.pt").string()).model_config, state.model_config);
  // Weights-only checkpoints load weights, but cannot resume an optimiser.
  TinyNet b;
  load_checkpoint((dir / "w.pt").string(), *b, nullptr);
  expect_same_tensors(*a, *b);
  auto opt = make_optimizer(b->parameters(), OptimizerOptions{});
  EXPECT_THROW(load_checkpoint((dir / "w.pt").string(), *b, opt.get()), revunet::Error);
  fs::remove_all(dir);
}

void expect_error_naming(const std::function<void()>& f, const std::string& path,
                         const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "no error for " << what;
  } catch (const revunet::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, CorruptedOrTruncatedFilesFailClearly) {
  const fs::path dir = checkpoint_dir("corrupt");
  TinyNet a;
  const std::string path = (dir / "last.pt").string();
  save_checkpoint(path, *a, nullptr, CheckpointState{});
  const std::string good = read_bytes(path);
  TinyNet b;

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x20;
  write_bytes(path, flipped);
  expect_error_naming([&] { load_checkpoint(path, *b, nullptr); }, path, "crc32");

  write_bytes(path, good.substr(0, good.size() - 100));
  expect_error_naming([&] { load_checkpoint(path, *b, nullptr); }, path, "truncated");

  write_bytes(path, good.substr(0, 10));
  expect_error_naming([&] { read_checkpoint_state(path); }, path, "not a revunet checkpoint");

  expect_error_naming([&] { read_checkpoint_state((dir / "missing.pt").string()); }, "missing.pt",
                      "cannot open");
  fs::remove_all(dir);
}

TEST(Checkpoint, AFailedWriteLeavesThePreviousCheckpointIntact) {
  const fs::path dir = checkpoint_dir("failed_write");
  torch::manual_seed(8);
  TinyNet a;
  const std::string path = (dir / "last.pt").string();
  save_checkpoint(path, *a, nullptr, CheckpointState{});
  const std::string good = read_bytes(path);

  // Block the temporary file the writer uses (a directory in its place: fails even as root).
  fs::create_directories(core::temporary_path_for(path));
  TinyNet other;
  EXPECT_THROW(save_checkpoint(path, *other, nullptr, CheckpointState{}), revunet::Error);
  EXPECT_EQ(read_bytes(path), good);
  TinyNet b;
  load_checkpoint(path, *b, nullptr);
  expect_same_tensors(*a, *b);
  fs::remove_all(dir);
}

TEST(Checkpoint, RejectsAnotherModelsWeights) {
  const fs::path dir = checkpoint_dir("mismatch");
  torch::nn::Linear small(2, 3), wide(2, 4);
  const std::string path = (dir / "m.pt").string();
  save_checkpoint(path, *small, nullptr, CheckpointState{});
  expect_error_naming([&] { load_checkpoint(path, *wide, nullptr); }, path, "shape");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace revunet::train

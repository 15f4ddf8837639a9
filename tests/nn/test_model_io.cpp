#include "revunet/nn/model_io.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "revunet/core/error.h"

namespace revunet::nn {
namespace {

namespace fs = std::filesystem;

class ModelIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("revunet_test_model_io_" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static UNetConfig config() {
    UNetConfig c;
    c.levels = 3;
    c.widths = {4, 8, 12};
    c.encoder_couplings = {1, 2, 1};
    c.decoder_couplings = {1, 1};
    c.expansion = 2;
    c.skip = SkipMerge::kConcat;
    c.deep_supervision = true;
    c.patch = {32, 32, 32};
    c.notes = "test model";
    return c;
  }

  // The revunet::Error message of loading `file` ("" when it loads).
  static std::string load_error(const std::string& file) {
    try {
      load_model(file);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(ModelIo, SaveThenLoadGivesIdenticalOutputsAndConfig) {
  torch::manual_seed(3);
  UNet net(config());
  const auto file = path("model.pt");
  save_model(file, net, config());

  LoadedModel loaded = load_model(file, torch::kCPU);
  EXPECT_EQ(to_json(loaded.config), to_json(config()));
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 4, 10, 12, 9});
  const auto expected = net->forward_deep(x);
  const auto actual = loaded.model->forward_deep(x);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(torch::equal(actual[i], expected[i]));
  // The file is written through a temporary and a rename: nothing else is left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ModelIo, TheSavedModesAreTheOnesTheConfigSays) {
  auto c = config();
  c.mode = rev::StackMode::kCheckpoint;
  c.stage_modes = {{"enc1", rev::StackMode::kPlain}};
  UNet net(config());
  save_model(path("m.pt"), net, c);
  LoadedModel loaded = load_model(path("m.pt"));
  EXPECT_EQ(loaded.model->stage_mode("enc1"), rev::StackMode::kPlain);
  EXPECT_EQ(loaded.model->stage_mode("dec0"), rev::StackMode::kCheckpoint);
}

TEST_F(ModelIo, AConfigOfAnotherArchitectureIsRefusedWhenSaving) {
  UNet net(config());
  auto other = config();
  other.widths = {4, 8, 16};
  EXPECT_THROW(save_model(path("m.pt"), net, other), c10::Error);
}

TEST_F(ModelIo, ATruncatedFileGivesAnErrorNamingTheFile) {
  UNet net(config());
  const auto file = path("model.pt");
  save_model(file, net, config());
  fs::resize_file(file, fs::file_size(file) / 2);
  const auto message = load_error(file);
  EXPECT_EQ(message.rfind(file + ": not a readable model file", 0), 0u) << message;
}

TEST_F(ModelIo, AFileThatIsNotAModelGivesAnErrorNamingTheFile) {
  std::ofstream(path("text.pt")) << "hello, this is not a model\n";
  EXPECT_EQ(load_error(path("text.pt")).rfind(path("text.pt") + ": not a readable model file", 0),
            0u);

  torch::serialize::OutputArchive archive;
  archive.write("weights", torch::ones({3}));
  archive.save_to(path("foreign.pt"));
  const auto message = load_error(path("foreign.pt"));
  EXPECT_NE(message.find("not a revunet model"), std::string::npos) << message;

  EXPECT_EQ(load_error(path("missing.pt")),
            path("missing.pt") + ": no such model file (or not readable)");
}

TEST_F(ModelIo, LoadsOntoCudaWhenAvailable) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  UNet net(config());
  save_model(path("m.pt"), net, config());
  LoadedModel loaded = load_model(path("m.pt"), torch::Device(torch::kCUDA, 0));
  for (const auto& p : loaded.model->parameters()) EXPECT_TRUE(p.is_cuda());
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 4, 8, 8, 8});
  // cuDNN may use TF32 on recent GPUs: agree to about 1e-3 of the logits' range, not bit for bit.
  const auto expected = net->forward(x);
  const auto actual = loaded.model->forward(x.cuda()).cpu();
  EXPECT_LE((actual - expected).abs().max().item<double>(),
            1e-2 * expected.abs().max().item<double>());
}

}  // namespace
}  // namespace revunet::nn

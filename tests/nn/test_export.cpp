#include "revunet/nn/export.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "revunet/core/error.h"
#include "revunet/nn/unet.h"

namespace revunet::nn {
namespace {

namespace fs = std::filesystem;

class Export : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("revunet_test_export_" + std::to_string(::getpid()) + "_" +
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
    c.squeeze_excitation = true;
    c.skip = SkipMerge::kConcat;
    c.deep_supervision = true;
    return c;
  }

  static std::string contents(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
};

TEST_F(Export, StateDictNamesEveryParameterAsNamedParametersDoes) {
  torch::manual_seed(0);
  UNet model(config());
  const TensorDict dict = state_dict(*model);
  const auto params = model->named_parameters();
  ASSERT_EQ(dict.size(), params.size());  // stateless norms: no buffers
  for (size_t i = 0; i < dict.size(); ++i) {
    EXPECT_EQ(dict[i].first, params[i].key());
    EXPECT_FALSE(dict[i].second.requires_grad());
    EXPECT_TRUE(torch::equal(dict[i].second, params[i].value()));
  }
  EXPECT_EQ(dict.front().first, "stem.0.weight");
  EXPECT_EQ(dict.back().first, "head.bias");
}

TEST_F(Export, SavedDictReadsBackWithTheSameNamesOrderAndValues) {
  const TensorDict saved = {{"b.weight", torch::randn({3, 2, 1, 1, 1})},
                            {"a", torch::arange(6, torch::kFloat64).reshape({2, 3}).t()},
                            {"scalar", torch::tensor(2.5f)}};
  save_tensor_dict(path("w.pt"), saved);
  const TensorDict loaded = load_tensor_dict(path("w.pt"));
  ASSERT_EQ(loaded.size(), saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    EXPECT_EQ(loaded[i].first, saved[i].first);
    EXPECT_EQ(loaded[i].second.scalar_type(), saved[i].second.scalar_type());
    EXPECT_TRUE(torch::equal(loaded[i].second, saved[i].second));
  }
}

TEST_F(Export, TheDictCarriesNoTorchScriptTypeTagThatWeightsOnlyLoadingRefuses) {
  save_tensor_dict(path("w.pt"), {{"x", torch::ones({2})}});
  const std::string bytes = contents(path("w.pt"));
  EXPECT_NE(bytes.find("data.pkl"), std::string::npos);
  EXPECT_NE(bytes.find("_rebuild_tensor_v2"), std::string::npos);
  EXPECT_EQ(bytes.find("restore_type_tag"), std::string::npos);
}

TEST_F(Export, ExportWritesTheResolvedConfigBesideTheWeights) {
  torch::manual_seed(0);
  UNet model(config());
  const std::string json_path = export_weights(path("weights.pt"), *model, config());
  EXPECT_EQ(json_path, path("weights.json"));
  std::ifstream in(json_path);
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(to_json(unet_config_from_json(json, json_path)), to_json(config()));
  EXPECT_EQ(load_tensor_dict(path("weights.pt")).size(), model->named_parameters().size());
}

TEST_F(Export, ConfigPathReplacesAPtExtensionOrAppendsJson) {
  EXPECT_EQ(config_path_beside("run/weights.pt"), "run/weights.json");
  EXPECT_EQ(config_path_beside("run/weights"), "run/weights.json");
  EXPECT_EQ(config_path_beside("run/weights.pth"), "run/weights.pth.json");
}

TEST_F(Export, LoadingAFileThatIsNotATensorDictNamesTheFile) {
  std::ofstream(path("junk.pt")) << "not a zip archive";
  try {
    load_tensor_dict(path("junk.pt"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.pt"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_tensor_dict(path("missing.pt")), Error);
}

}  // namespace
}  // namespace revunet::nn

#include "revunet/nn/unet_config.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "revunet/core/build_info.h"
#include "revunet/core/error.h"
#include "revunet/nn/unet.h"

namespace revunet::nn {
namespace {

using nlohmann::json;

// The message of the revunet::Error that parsing `value` throws ("" when it parses).
std::string parse_error(const json& value, const std::string& source = "configs/x.json") {
  try {
    unet_config_from_json(value, source);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(UNetConfig, ParsesEveryField) {
  const json value = {{"_notes", "a comment"},
                      {"in_channels", 2},
                      {"out_channels", 5},
                      {"levels", 3},
                      {"widths", {6, 12, 20}},
                      {"encoder_couplings", {1, 2, 3}},
                      {"decoder_couplings", {4, 5}},
                      {"expansion", 6},
                      {"kernel_size", 5},
                      {"norm", "instance"},
                      {"groups", 2},
                      {"activation", "leaky_relu"},
                      {"squeeze_excitation", true},
                      {"downsampling", "strided_conv"},
                      {"upsampling", "trilinear"},
                      {"skip", "concat"},
                      {"deep_supervision", true},
                      {"mode", "checkpoint"},
                      {"stage_modes", {{"enc0", "plain"}, {"dec1", "reversible"}}},
                      {"patch", {64, 80, 96}}};
  const UNetConfig c = unet_config_from_json(value, "test");
  EXPECT_EQ(c.in_channels, 2);
  EXPECT_EQ(c.out_channels, 5);
  EXPECT_EQ(c.levels, 3);
  EXPECT_EQ(c.widths, (std::vector<int64_t>{6, 12, 20}));
  EXPECT_EQ(c.encoder_couplings, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(c.decoder_couplings, (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(c.expansion, 6);
  EXPECT_EQ(c.kernel_size, 5);
  EXPECT_EQ(c.norm, NormKind::kInstance);
  EXPECT_EQ(c.groups, 2);
  EXPECT_EQ(c.activation, ActivationKind::kLeakyReLU);
  EXPECT_TRUE(c.squeeze_excitation);
  EXPECT_EQ(c.downsampling, Downsampling::kStridedConv);
  EXPECT_EQ(c.upsampling, Upsampling::kTrilinear);
  EXPECT_EQ(c.skip, SkipMerge::kConcat);
  EXPECT_TRUE(c.deep_supervision);
  EXPECT_EQ(c.mode, rev::StackMode::kCheckpoint);
  EXPECT_EQ(c.stage_mode("enc0"), rev::StackMode::kPlain);
  EXPECT_EQ(c.stage_mode("dec1"), rev::StackMode::kReversible);
  EXPECT_EQ(c.stage_mode("enc2"), rev::StackMode::kCheckpoint);
  EXPECT_EQ(c.patch, (std::vector<int64_t>{64, 80, 96}));
  EXPECT_EQ(c.notes, "a comment");
  EXPECT_EQ(c.size_multiple(), 4);
}

TEST(UNetConfig, AnEmptyObjectGivesTheDefaults) {
  const UNetConfig c = unet_config_from_json(json::object(), "test");
  EXPECT_EQ(to_json(c), to_json(UNetConfig{}));
}

TEST(UNetConfig, BaseWidthDoublesPerLevelUpToMaxWidth) {
  auto c = unet_config_from_json({{"levels", 5}, {"base_width", 32}, {"max_width", 200}}, "t");
  EXPECT_EQ(c.widths, (std::vector<int64_t>{32, 64, 128, 200, 200}));
  c = unet_config_from_json({{"levels", 3}, {"base_width", 8}}, "t");
  EXPECT_EQ(c.widths, (std::vector<int64_t>{8, 16, 32}));
}

TEST(UNetConfig, OneCouplingCountAppliesToEveryStage) {
  auto c = unet_config_from_json(
      {{"levels", 4}, {"encoder_couplings", 3}, {"decoder_couplings", 2}}, "t");
  EXPECT_EQ(c.encoder_couplings, (std::vector<int64_t>{3, 3, 3, 3}));
  EXPECT_EQ(c.decoder_couplings, (std::vector<int64_t>{2, 2, 2}));
}

TEST(UNetConfig, LevelsFollowTheWidthsListWhenNotGiven) {
  EXPECT_EQ(unet_config_from_json({{"widths", {8, 16}}}, "t").levels, 2);
}

TEST(UNetConfig, ToJsonParsesBackToTheSameConfig) {
  auto c = unet_config_from_json({{"levels", 3},
                                  {"base_width", 10},
                                  {"encoder_couplings", {1, 2, 3}},
                                  {"skip", "concat"},
                                  {"stage_modes", {{"dec0", "plain"}}},
                                  {"_notes", {"line one", "line two"}}},
                                 "t");
  const json round = to_json(unet_config_from_json(to_json(c), "round trip"));
  EXPECT_EQ(round, to_json(c));
  EXPECT_EQ(c.notes, "line one\nline two");
}

TEST(UNetConfig, ABadValueNamesTheFieldAndTheFile) {
  EXPECT_EQ(parse_error({{"expansion", -1}}),
            "configs/x.json: field 'expansion' must be a positive integer, got -1");
  EXPECT_NE(parse_error({{"expansion", 2.5}}).find("field 'expansion'"), std::string::npos);
  EXPECT_NE(parse_error({{"norm", "batch"}}).find("field 'norm' must be one of group, instance"),
            std::string::npos);
  EXPECT_NE(parse_error({{"kernel_size", 4}}).find("field 'kernel_size' must be odd"),
            std::string::npos);
  EXPECT_NE(parse_error({{"deep_supervision", "yes"}}).find("field 'deep_supervision'"),
            std::string::npos);
  EXPECT_NE(parse_error({{"mode", "fast"}}).find("field 'mode'"), std::string::npos);
  EXPECT_NE(parse_error({{"patch", {64, 64}}}).find("field 'patch'"), std::string::npos);
  EXPECT_NE(parse_error({{"levels", 0}}).find("field 'levels'"), std::string::npos);
  EXPECT_NE(parse_error({{"upsampling", "nearest"}}).find("field 'upsampling'"), std::string::npos);
}

TEST(UNetConfig, AListOfTheWrongLengthSaysHowManyEntriesAreNeeded) {
  const auto message = parse_error({{"levels", 3}, {"decoder_couplings", {1, 1, 1}}});
  EXPECT_NE(message.find("field 'decoder_couplings' must list one value per stage (2)"),
            std::string::npos)
      << message;
  EXPECT_NE(parse_error({{"levels", 3}, {"widths", {8, 16}}}).find("field 'widths'"),
            std::string::npos);
}

TEST(UNetConfig, AnUnknownFieldIsAnErrorWithASuggestion) {
  const auto message = parse_error({{"expanson", 4}});
  EXPECT_EQ(
      message.rfind("configs/x.json: unknown field 'expanson' (did you mean 'expansion'?)", 0), 0u)
      << message;
}

TEST(UNetConfig, UnderscoreFieldsAreComments) {
  EXPECT_EQ(parse_error({{"_notes", "x"}, {"_anything", {1, 2}}}), "");
}

TEST(UNetConfig, AnOddReversibleWidthIsRejectedWithTheReason) {
  auto message = parse_error({{"levels", 3}, {"widths", {8, 15, 32}}});
  EXPECT_NE(message.find("configs/x.json: field 'widths' gives 15 channels at level 1"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("must be even"), std::string::npos) << message;
  message = parse_error({{"levels", 2}, {"base_width", 7}});
  EXPECT_NE(message.find("field 'base_width' gives 7 channels at level 0"), std::string::npos);
  message = parse_error({{"levels", 4}, {"base_width", 8}, {"max_width", 33}});
  EXPECT_NE(message.find("field 'max_width' gives 33 channels"), std::string::npos) << message;
}

TEST(UNetConfig, WidthsAndBaseWidthTogetherAreAmbiguous) {
  EXPECT_NE(parse_error({{"widths", {8, 16}}, {"base_width", 8}}).find("use one"),
            std::string::npos);
}

TEST(UNetConfig, StageModesMustNameAnExistingStage) {
  const auto message = parse_error({{"levels", 2}, {"stage_modes", {{"dec1", "plain"}}}});
  EXPECT_NE(message.find("field 'stage_modes' names stage 'dec1'"), std::string::npos) << message;
  EXPECT_NE(message.find("enc0, enc1, dec0"), std::string::npos) << message;
}

TEST(UNetConfig, LoadNamesAMissingFileAndInvalidJson) {
  const auto dir = std::filesystem::temp_directory_path() / "revunet_test_unet_config";
  std::filesystem::create_directories(dir);
  const auto missing = (dir / "missing.json").string();
  EXPECT_THROW(
      {
        try {
          load_unet_config(missing);
        } catch (const Error& e) {
          EXPECT_EQ(std::string(e.what()).rfind(missing + ": cannot open", 0), 0u) << e.what();
          throw;
        }
      },
      Error);
  const auto broken = (dir / "broken.json").string();
  std::ofstream(broken) << "{\"levels\": 3,";
  try {
    load_unet_config(broken);
    FAIL() << "invalid JSON was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(broken + ": not valid JSON", 0), 0u) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(UNetConfig, TheShippedConfigsParseAndBuild) {
  for (const char* name : {"paper", "tiny", "large", "unet4"}) {
    const std::string path = std::string(REVUNET_SOURCE_DIR) + "/configs/" + name + ".json";
    const UNetConfig c = load_unet_config(path);
    EXPECT_FALSE(c.notes.empty()) << path << " should explain itself in _notes";
    UNet net(c);
    EXPECT_GT(count_parameters(*net), 0) << path;
    for (int64_t p : c.patch) EXPECT_EQ(p % c.size_multiple(), 0) << path;
  }
}

}  // namespace
}  // namespace revunet::nn

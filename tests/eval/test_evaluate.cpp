#include "revunet/eval/evaluate.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace revunet::eval {
namespace {

// A 2021-convention label map: ED shell, NCR core, ET ring inside, on a 10^3 grid.
torch::Tensor labels_2021() {
  torch::Tensor l = torch::zeros({10, 10, 10}, torch::kInt64);
  l.narrow(0, 1, 8).narrow(1, 1, 8).narrow(2, 1, 8).fill_(2);
  l.narrow(0, 3, 4).narrow(1, 3, 4).narrow(2, 3, 4).fill_(4);
  l.narrow(0, 4, 2).narrow(1, 4, 2).narrow(2, 4, 2).fill_(1);
  return l;
}

TEST(ScoreLabels, GivesTheSameScoresForTheSameTumourInBothConventions) {
  const torch::Tensor ref21 = labels_2021();
  // Shrink the prediction's enhancing ring to necrosis on one side.
  torch::Tensor pred21 = ref21.clone();
  pred21.narrow(0, 3, 1).masked_fill_(pred21.narrow(0, 3, 1) == 4, 1);
  auto to_2023 = [](const torch::Tensor& l) {
    return torch::where(l == 4, torch::full_like(l, 3), l);
  };
  const std::array<double, 3> spacing = {1.0, 1.5, 2.0};
  const CaseScores s21 =
      score_labels("a", pred21, ref21, data::LabelConvention::kBraTS2021, spacing);
  const CaseScores s23 = score_labels("a", to_2023(pred21), to_2023(ref21),
                                      data::LabelConvention::kBraTS2023, spacing);
  for (int r = 0; r < kRegionCount; ++r) {
    EXPECT_EQ(s21.regions[r].dice, s23.regions[r].dice) << r;
    EXPECT_EQ(s21.regions[r].hd95, s23.regions[r].hd95) << r;
  }
  EXPECT_EQ(s21.regions[0].dice, 1.0);
  EXPECT_EQ(s21.regions[1].dice, 1.0);
  EXPECT_DOUBLE_EQ(s21.regions[2].dice, 2.0 * 40 / (40 + 56));  // 16 of 56 ET voxels lost
  EXPECT_DOUBLE_EQ(s21.regions[2].sensitivity, 40.0 / 56);
}

TEST(ScoreLabels, ScoresAPerfectPredictionAndAMissingEnhancingTumour) {
  const torch::Tensor ref = labels_2021();
  const CaseScores same = score_labels("a", ref, ref, data::LabelConvention::kBraTS2021, {1, 1, 1});
  for (const auto& r : same.regions) {
    EXPECT_EQ(r.dice, 1.0);
    EXPECT_EQ(r.hd95, 0.0);
  }
  // Predict the enhancing ring as necrosis: WT and TC stay perfect, ET is missed entirely.
  const torch::Tensor pred = torch::where(ref == 4, torch::ones_like(ref), ref);
  const CaseScores s = score_labels("b", pred, ref, data::LabelConvention::kBraTS2021, {1, 1, 1});
  EXPECT_EQ(s.id, "b");
  EXPECT_EQ(s.regions[0].dice, 1.0);
  EXPECT_EQ(s.regions[1].dice, 1.0);
  EXPECT_EQ(s.regions[2].dice, 0.0);
  EXPECT_EQ(s.regions[2].hd95, kEmptyMaskHd95);
}

std::vector<CaseScores> three_cases() {
  std::vector<CaseScores> cases(3);
  const double dice[3] = {0.9, 0.5, 0.7};
  for (int i = 0; i < 3; ++i) {
    cases[i].id = "case" + std::to_string(i);
    for (int r = 0; r < kRegionCount; ++r) {
      cases[i].regions[r] = {dice[i] - 0.1 * r, 2.0 * (i + 1), 1.0, 0.99};
    }
  }
  return cases;
}

TEST(Summarize, GivesMeanMedianAndPopulationStandardDeviationPerRegionAndMetric) {
  const Summary s = summarize(three_cases());
  EXPECT_EQ(s.cases, 3);
  const Statistics& dice_wt = s.stats[0][0];
  EXPECT_NEAR(dice_wt.mean, 0.7, 1e-12);
  EXPECT_NEAR(dice_wt.median, 0.7, 1e-12);
  EXPECT_NEAR(dice_wt.std, std::sqrt((0.04 + 0.04) / 3), 1e-12);
  EXPECT_NEAR(s.stats[2][0].mean, 0.5, 1e-12);
  EXPECT_NEAR(s.stats[1][1].median, 4.0, 1e-12);
  EXPECT_EQ(s.stats[0][3].count, 3);
}

TEST(CasesCsv, HasOneHeaderAndOneRowPerCaseWithMetricMajorColumns) {
  std::istringstream csv(cases_csv(three_cases()));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line,
            "id,dice_WT,dice_TC,dice_ET,hd95_WT,hd95_TC,hd95_ET,sens_WT,sens_TC,sens_ET,"
            "spec_WT,spec_TC,spec_ET");
  std::getline(csv, line);
  EXPECT_EQ(line, "case0,0.9,0.8,0.7,2,2,2,1,1,1,0.99,0.99,0.99");
  int rows = 1;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 3);
}

TEST(SummaryFiles, AreWrittenAndReadBack) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("revunet_test_evaluate_" + std::to_string(::getpid()));
  const auto cases = three_cases();
  write_cases_csv((dir / "cases.csv").string(), cases);
  write_summary_json((dir / "summary.json").string(), summarize(cases), {{"convention", "2021"}});
  std::ifstream in(dir / "summary.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["cases"], 3);
  EXPECT_EQ(j["convention"], "2021");
  EXPECT_NEAR(j["regions"]["WT"]["dice"]["mean"].get<double>(), 0.7, 1e-12);
  EXPECT_TRUE(std::filesystem::exists(dir / "cases.csv"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace revunet::eval

#include "revunet/eval/evaluate_folder.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "revunet/core/error.h"
#include "revunet/data/nifti.h"

namespace revunet::eval {
namespace {
namespace fs = std::filesystem;

constexpr std::array<double, 3> kSpacing = {1.0, 1.0, 1.5};

// A tumour with ED, NCR and ET (label `et`) on a 12^3 grid.
torch::Tensor tumour(int64_t et, int64_t shift = 0) {
  torch::Tensor l = torch::zeros({12, 12, 12}, torch::kInt64);
  l.narrow(0, 2 + shift, 8).narrow(1, 2, 8).narrow(2, 2, 8).fill_(2);
  l.narrow(0, 4 + shift, 4).narrow(1, 4, 4).narrow(2, 4, 4).fill_(et);
  l.narrow(0, 5 + shift, 2).narrow(1, 5, 2).narrow(2, 5, 2).fill_(1);
  return l;
}

void write_labels(const fs::path& path, const torch::Tensor& labels,
                  std::array<double, 3> spacing = kSpacing) {
  fs::create_directories(path.parent_path());
  data::write_nifti(path.string(), labels, data::make_geometry({12, 12, 12}, spacing),
                    data::NiftiDatatype::kUInt8);
}

class EvaluateFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::temp_directory_path() / ("revunet_test_evaluate_folder_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    // Two 2021 cases in their own folders, as BraTS ships them.
    write_labels(ref() / "BraTS2021_00001" / "BraTS2021_00001_seg.nii.gz", tumour(4));
    write_labels(ref() / "BraTS2021_00002" / "BraTS2021_00002_seg.nii.gz", tumour(4));
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path ref() const { return root_ / "ref"; }
  fs::path pred() const { return root_ / "pred"; }
  FolderOptions options() const { return {pred().string(), ref().string(), std::nullopt, false}; }

  fs::path root_;
};

// The revunet::Error message of `f`, or "" when it does not throw.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const revunet::Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(EvaluateFolder, PairsBothPredictionNamesAndScoresEachCase) {
  write_labels(pred() / "BraTS2021_00001.nii.gz", tumour(4));
  write_labels(pred() / "BraTS2021_00002_pred.nii.gz", tumour(4, 1));
  const auto pairs = pair_cases(options());
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[1].pred, (pred() / "BraTS2021_00002_pred.nii.gz").string());
  EXPECT_EQ(pairs[1].convention, data::LabelConvention::kBraTS2021);

  std::vector<std::string> seen;
  const FolderEvaluation e =
      evaluate_folder(options(), [&](const CaseScores& c) { seen.push_back(c.id); });
  EXPECT_EQ(seen, (std::vector<std::string>{"BraTS2021_00001", "BraTS2021_00002"}));
  ASSERT_EQ(e.pairs.size(), 2u);
  EXPECT_EQ(e.pairs[0].id, "BraTS2021_00001");
  for (const auto& r : e.cases[0].regions) EXPECT_EQ(r.dice, 1.0);
  // One voxel shift along x: WT Dice 2 * 7 / 16, HD95 1 mm.
  EXPECT_DOUBLE_EQ(e.cases[1].regions[0].dice, 2.0 * 7 / 16);
  EXPECT_DOUBLE_EQ(e.cases[1].regions[0].hd95, 1.0);
  EXPECT_EQ(e.summary.cases, 2);
  EXPECT_DOUBLE_EQ(e.summary.stats[0][0].mean, (1.0 + 2.0 * 7 / 16) / 2);
}

TEST_F(EvaluateFolder, ReadsFlat2023CasesInTheirOwnConvention) {
  fs::remove_all(ref());
  write_labels(ref() / "BraTS-GLI-00003-000-seg.nii.gz", tumour(3));
  write_labels(pred() / "BraTS-GLI-00003-000.nii.gz", tumour(3));
  const FolderEvaluation e = evaluate_folder(options());
  ASSERT_EQ(e.cases.size(), 1u);
  for (const auto& r : e.cases[0].regions) EXPECT_EQ(r.dice, 1.0);
  // Read as 2021 labels, the ET label 3 is foreign: a one-line error naming the file.
  FolderOptions o = options();
  o.convention = data::LabelConvention::kBraTS2021;
  const std::string msg = error_of([&] { evaluate_folder(o); });
  EXPECT_NE(msg.find("BraTS-GLI-00003-000-seg.nii.gz: label value 3"), std::string::npos) << msg;
}

TEST_F(EvaluateFolder, NamesTheMissingPredictionUnlessOnlyPredictedCasesAreScored) {
  write_labels(pred() / "BraTS2021_00001.nii.gz", tumour(4));
  const std::string msg = error_of([&] { pair_cases(options()); });
  EXPECT_NE(msg.find((pred() / "BraTS2021_00002.nii.gz").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing prediction"), std::string::npos) << msg;
  FolderOptions o = options();
  o.only_predicted = true;
  EXPECT_EQ(pair_cases(o).size(), 1u);
}

TEST_F(EvaluateFolder, NamesAPredictionWithoutAReferenceCase) {
  write_labels(pred() / "BraTS2021_00001.nii.gz", tumour(4));
  write_labels(pred() / "BraTS2021_00002.nii.gz", tumour(4));
  write_labels(pred() / "BraTS2021_00099.nii.gz", tumour(4));
  const std::string msg = error_of([&] { pair_cases(options()); });
  EXPECT_EQ(msg.rfind((pred() / "BraTS2021_00099.nii.gz").string() + ": no reference case", 0), 0u)
      << msg;
}

TEST_F(EvaluateFolder, RejectsAPredictionOnAnotherGrid) {
  write_labels(pred() / "BraTS2021_00001.nii.gz", tumour(4), {1.0, 1.0, 1.0});
  write_labels(pred() / "BraTS2021_00002.nii.gz", tumour(4));
  const std::string msg = error_of([&] { evaluate_folder(options()); });
  EXPECT_NE(msg.find("BraTS2021_00001.nii.gz: voxel size 1 mm along axis 2"), std::string::npos)
      << msg;
}

}  // namespace
}  // namespace revunet::eval

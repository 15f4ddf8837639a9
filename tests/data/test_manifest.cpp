#include "revunet/data/manifest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "data/case_maker.h"
#include "data/temp_dir.h"

namespace revunet::data {
namespace {

namespace fs = std::filesystem;
using testing::make_case;
using testing::TempDir;

std::vector<std::string> ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("case_" + std::to_string(1000 + i));
  return out;
}

TEST(Manifest, KFoldSplitIsReproducibleAndBalanced) {
  const auto names = ids(23);
  const auto a = kfold_split(names, 5, 7);
  EXPECT_EQ(a, kfold_split(names, 5, 7));
  std::map<int, int> sizes;
  for (int f : a) ++sizes[f];
  ASSERT_EQ(sizes.size(), 5u);
  for (const auto& [fold, size] : sizes) {
    EXPECT_GE(size, 4) << "fold " << fold;
    EXPECT_LE(size, 5) << "fold " << fold;
  }
  EXPECT_NE(a, kfold_split(names, 5, 8));
}

TEST(Manifest, KFoldSplitDependsOnTheIdsNotOnTheirOrder) {
  auto names = ids(12);
  const auto forward = kfold_split(names, 3, 1);
  std::reverse(names.begin(), names.end());
  auto backward = kfold_split(names, 3, 1);
  std::reverse(backward.begin(), backward.end());
  EXPECT_EQ(forward, backward);
}

TEST(Manifest, KFoldSplitOfSixIdsIntoThreeFoldsPutsTwoInEachFold) {
  const auto f = kfold_split(ids(6), 3, 0);
  std::map<int, int> sizes;
  for (int x : f) ++sizes[x];
  EXPECT_EQ(sizes, (std::map<int, int>{{0, 2}, {1, 2}, {2, 2}}));
}

TEST(Manifest, ListsCasesWithShapeSpacingLabelCountsAndFolds) {
  TempDir root;
  for (const char* id : {"b", "a", "c"}) make_case(root.path(), id, LabelConvention::kBraTS2021);
  const auto m = build_manifest(root.path().string(), {3, 5, true});
  ASSERT_EQ(m["cases"].size(), 3u);
  EXPECT_TRUE(m["problems"].empty());
  const auto& a = m["cases"][0];
  EXPECT_EQ(a["id"], "a");
  EXPECT_EQ(a["shape"], nlohmann::json({4, 5, 3}));
  EXPECT_EQ(a["spacing"], nlohmann::json({1.0, 1.0, 1.0}));
  EXPECT_EQ(a["label_counts"]["4"], 1);
  EXPECT_EQ(a["label_counts"]["0"], 4 * 5 * 3 - 3);
  EXPECT_EQ(a["modalities"]["flair"], root.file("a/a_flair.nii.gz"));
  std::set<int> folds;
  for (const auto& c : m["cases"]) folds.insert(c["fold"].get<int>());
  EXPECT_EQ(folds.size(), 3u);
  const std::string table = format_manifest(m);
  EXPECT_NE(table.find("3 cases, 3 folds"), std::string::npos) << table;
}

TEST(Manifest, ReportsEveryProblemNamingTheFile) {
  TempDir root;
  make_case(root.path(), "good", LabelConvention::kBraTS2021);
  const std::string bad = make_case(root.path(), "bad_shape", LabelConvention::kBraTS2021);
  write_image(bad + "/bad_shape_t2.nii.gz", torch::ones({3, 3, 3}), {1, 1, 1});
  const std::string nomask = make_case(root.path(), "no_mask", LabelConvention::kBraTS2021);
  fs::remove(nomask + "/no_mask_seg.nii.gz");
  const auto m = build_manifest(root.path().string(), {2, 0, true});
  ASSERT_EQ(m["problems"].size(), 2u) << m["problems"].dump();
  const std::string all = m["problems"].dump();
  EXPECT_NE(all.find(bad + "/bad_shape_t2.nii.gz"), std::string::npos) << all;
  EXPECT_NE(all.find("no_mask_seg.nii.gz"), std::string::npos) << all;
  EXPECT_NE(format_manifest(m).find("problem: "), std::string::npos);
}

TEST(Manifest, AnUnlabelledDatasetHasNoMissingMaskProblems) {
  TempDir root;
  make_case(root.path(), "x", LabelConvention::kBraTS2023, false);
  make_case(root.path(), "y", LabelConvention::kBraTS2023, false);
  const auto m = build_manifest(root.path().string(), {2, 0, true});
  EXPECT_TRUE(m["problems"].empty()) << m["problems"].dump();
  EXPECT_TRUE(m["cases"][0]["seg"].is_null());
}

TEST(Manifest, AShiftedOriginOrTwinFilesAreProblemsAndAStrayPrefixAWarning) {
  TempDir root;
  make_case(root.path(), "good", LabelConvention::kBraTS2021);
  const std::string shifted = make_case(root.path(), "shifted", LabelConvention::kBraTS2021);
  const std::string flair = shifted + "/shifted_flair.nii.gz";
  const NiftiImage image = read_nifti(flair);
  NiftiGeometry geometry = *image.geometry;
  Mat44 affine = geometry.affine();
  affine[2][3] += 5;  // FLAIR 5 mm higher: same shape and spacing
  set_affine(geometry, affine);
  write_nifti(flair, image.data, geometry, NiftiDatatype::kFloat32);
  const std::string twins = make_case(root.path(), "twins", LabelConvention::kBraTS2021);
  write_image(twins + "/twins_t2.nii", torch::ones({4, 5, 3}), {1, 1, 1});
  fs::copy_file(twins + "/twins_seg.nii.gz", twins + "/stray_seg.nii.gz");

  for (const bool load : {true, false}) {
    const auto m = build_manifest(root.path().string(), {2, 0, load});
    const std::string all = m["problems"].dump();
    // Loading also finds the stray mask's case incomplete (it has no modality).
    EXPECT_EQ(m["problems"].size(), load ? 3u : 1u) << all;
    EXPECT_NE(all.find(twins + "/twins_t2.nii and " + twins + "/twins_t2.nii.gz"),
              std::string::npos)
        << all;
    if (load) {
      EXPECT_NE(all.find(flair + ": voxel-to-world affine differs from " + shifted +
                         "/shifted_t1.nii.gz"),
                std::string::npos)
          << all;
    }
    ASSERT_EQ(m["warnings"].size(), 1u) << m["warnings"].dump();
    EXPECT_NE(format_manifest(m).find("warning: " + twins + "/stray_seg.nii.gz: id prefix 'stray'"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace revunet::data

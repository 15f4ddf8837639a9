#include "revunet/data/brats.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "data/case_maker.h"
#include "data/temp_dir.h"
#include "revunet/core/error.h"

namespace revunet::data {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::make_case;
using testing::modality_path;
using testing::TempDir;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Brats, ConventionTableNamesModalitiesAndLabelsOfBothConventions) {
  const auto& old = convention_spec(LabelConvention::kBraTS2021);
  const auto& now = convention_spec(LabelConvention::kBraTS2023);
  EXPECT_STREQ(old.modalities[1], "t1ce");
  EXPECT_STREQ(now.modalities[3], "t2f");
  EXPECT_EQ(label_values(LabelConvention::kBraTS2021), (std::vector<int64_t>{0, 1, 2, 4}));
  EXPECT_EQ(label_values(LabelConvention::kBraTS2023), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(parse_convention("2023"), LabelConvention::kBraTS2023);
  EXPECT_EQ(parse_convention("brats2021"), LabelConvention::kBraTS2021);
  EXPECT_TRUE(contains(error_of([] { parse_convention("2019"); }), "--convention"));
}

TEST(Brats, DiscoversBraTS2021CasesOneFolderPerCaseSortedById) {
  TempDir root;
  make_case(root.path(), "BraTS2021_00002", LabelConvention::kBraTS2021);
  const std::string dir = make_case(root.path(), "BraTS2021_00001", LabelConvention::kBraTS2021);
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "BraTS2021_00001");
  EXPECT_EQ(cases[1].id, "BraTS2021_00002");
  EXPECT_EQ(cases[0].dir, dir);
  EXPECT_EQ(cases[0].convention, LabelConvention::kBraTS2021);
  EXPECT_EQ(cases[0].modalities[1], dir + "/BraTS2021_00001_t1ce.nii.gz");
  EXPECT_EQ(cases[0].modalities[0], dir + "/BraTS2021_00001_t1.nii.gz");
  EXPECT_EQ(cases[0].seg, dir + "/BraTS2021_00001_seg.nii.gz");
}

TEST(Brats, DiscoversBraTS2023CasesAndUncompressedNii) {
  TempDir root;
  const std::string dir =
      make_case(root.path(), "BraTS-GLI-00000-000", LabelConvention::kBraTS2023, true, ".nii");
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].id, "BraTS-GLI-00000-000");
  EXPECT_EQ(cases[0].convention, LabelConvention::kBraTS2023);
  EXPECT_EQ(cases[0].modalities[3], dir + "/BraTS-GLI-00000-000-t2f.nii");
  EXPECT_EQ(cases[0].seg, dir + "/BraTS-GLI-00000-000-seg.nii");
  const Case c = load_case(cases[0]);
  EXPECT_EQ(c.label[2][0][0].item<int64_t>(), 3);
}

TEST(Brats, DiscoversCasesThatShareOneFolderByIdPrefix) {
  TempDir root;
  make_case(root.path(), "flat", LabelConvention::kBraTS2021);
  for (const auto& f : fs::directory_iterator(root.path() / "flat")) {
    fs::copy_file(f.path(), root.path() / f.path().filename());
    std::string other = f.path().filename().string();
    other.replace(0, 4, "next");
    fs::copy_file(f.path(), root.path() / other);
  }
  fs::remove_all(root.path() / "flat");
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "flat");
  EXPECT_EQ(cases[1].id, "next");
  EXPECT_FALSE(cases[1].seg.empty());
}

TEST(Brats, ACaseWithoutMaskIsInferenceOnly) {
  TempDir root;
  make_case(root.path(), "case", LabelConvention::kBraTS2021, /*with_seg=*/false);
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_TRUE(cases[0].seg.empty());
  const Case c = load_case(cases[0]);
  EXPECT_FALSE(c.label.defined());
  EXPECT_EQ(c.image.sizes(), (std::vector<int64_t>{4, 4, 5, 3}));
}

TEST(Brats, TakesAMaskWithAnUnexpectedNameWhenItIsTheFolderOnlySegFile) {
  TempDir root;
  const std::string dir =
      make_case(root.path(), "BraTS20_Training_355", LabelConvention::kBraTS2021, true, ".nii");
  fs::rename(dir + "/BraTS20_Training_355_seg.nii", dir + "/W39_1998.09.19_Segm.nii");
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].seg, dir + "/W39_1998.09.19_Segm.nii");
  EXPECT_TRUE(load_case(cases[0]).label.defined());
}

TEST(Brats, AnUnfindableMaskIsReportedWithTheNamesTried) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c1", LabelConvention::kBraTS2021);
  fs::rename(dir + "/c1_seg.nii.gz", dir + "/c1_mask.nii.gz");
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_TRUE(cases[0].seg.empty());
  const std::string msg = missing_seg_message(cases[0]);
  EXPECT_TRUE(contains(msg, "c1_seg.nii.gz")) << msg;
  EXPECT_TRUE(contains(msg, "c1_seg.nii")) << msg;
  EXPECT_TRUE(contains(msg, "seg")) << msg;
}

TEST(Brats, LoadsModalitiesInTableOrderWithLabels) {
  TempDir root;
  make_case(root.path(), "c", LabelConvention::kBraTS2021);
  const Case c = load_case(discover_cases(root.path().string())[0]);
  EXPECT_EQ(c.image.scalar_type(), torch::kFloat32);
  for (int m = 0; m < kNumModalities; ++m) EXPECT_EQ(c.image[m].mean().item<float>(), m + 1.0f);
  EXPECT_EQ(c.label.scalar_type(), torch::kInt64);
  EXPECT_EQ(c.label[2][0][0].item<int64_t>(), 4);
  EXPECT_EQ(c.reference.spacing, (std::array<double, 3>{1, 1, 1}));
  ASSERT_TRUE(c.reference.geometry);
}

TEST(Brats, AMissingModalityNamesTheExpectedFile) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c", LabelConvention::kBraTS2021);
  const std::string flair = modality_path(dir, "c", LabelConvention::kBraTS2021, 3);
  fs::remove(flair);
  const auto cases = discover_cases(root.path().string());
  const std::string msg = error_of([&] { load_case(cases[0]); });
  EXPECT_TRUE(contains(msg, flair)) << msg;
  EXPECT_TRUE(contains(msg, "missing modality flair")) << msg;
}

TEST(Brats, AModalityOfAnotherShapeIsNamed) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c", LabelConvention::kBraTS2021);
  const std::string t2 = modality_path(dir, "c", LabelConvention::kBraTS2021, 2);
  write_image(t2, torch::ones({4, 5, 4}), {1, 1, 1});
  const std::string msg = error_of([&] { load_case(discover_cases(root.path().string())[0]); });
  EXPECT_TRUE(contains(msg, t2)) << msg;
  EXPECT_TRUE(contains(msg, "shape 4x5x4")) << msg;
}

TEST(Brats, AModalityOfAnotherSpacingIsNamed) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c", LabelConvention::kBraTS2021);
  const std::string t1ce = modality_path(dir, "c", LabelConvention::kBraTS2021, 1);
  write_image(t1ce, torch::ones({4, 5, 3}), {1, 1, 1.5});
  const std::string msg = error_of([&] { load_case(discover_cases(root.path().string())[0]); });
  EXPECT_TRUE(contains(msg, t1ce)) << msg;
  EXPECT_TRUE(contains(msg, "spacing")) << msg;
}

TEST(Brats, ALabelOutsideTheConventionIsNamed) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c", LabelConvention::kBraTS2021);
  const std::string seg = case_file_name(dir, "c", LabelConvention::kBraTS2021, "seg");
  torch::Tensor labels = torch::zeros({4, 5, 3}, torch::kInt64);
  labels[1][1][1] = 3;  // a BraTS 2023 label in a 2021-named case
  write_nifti(seg, labels, make_geometry(testing::kTinyShape, {1, 1, 1}), NiftiDatatype::kUInt8);
  const std::string msg = error_of([&] { load_case(discover_cases(root.path().string())[0]); });
  EXPECT_TRUE(contains(msg, seg)) << msg;
  EXPECT_TRUE(contains(msg, "label value 3")) << msg;
}

TEST(Brats, NanIntensitiesAreNamed) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c", LabelConvention::kBraTS2021);
  const std::string t2 = modality_path(dir, "c", LabelConvention::kBraTS2021, 2);
  torch::Tensor image = torch::ones({4, 5, 3});
  image[0][1][2] = std::numeric_limits<float>::quiet_NaN();
  write_image(t2, image, {1, 1, 1});
  const std::string msg = error_of([&] { load_case(discover_cases(root.path().string())[0]); });
  EXPECT_TRUE(contains(msg, t2)) << msg;
  EXPECT_TRUE(contains(msg, "NaN")) << msg;
}

TEST(Brats, AFolderWithoutCasesOrAMissingFolderIsAnError) {
  TempDir root;
  EXPECT_TRUE(contains(error_of([&] { discover_cases(root.path().string()); }), "no BraTS cases"));
  const std::string missing = root.file("absent");
  EXPECT_TRUE(contains(error_of([&] { discover_cases(missing); }), missing));
}

TEST(Brats, TwoCasesWithTheSameIdAreAnError) {
  TempDir root;
  make_case(root.path() / "a", "same", LabelConvention::kBraTS2021);
  make_case(root.path(), "same", LabelConvention::kBraTS2021);
  for (const auto& f : fs::directory_iterator(root.path() / "a" / "same")) {
    fs::copy_file(f.path(), root.path() / f.path().filename());
  }
  const std::string msg = error_of([&] { discover_cases(root.path().string()); });
  EXPECT_TRUE(contains(msg, "same")) << msg;
}

// Rewrites modality `m` of a make_case case with the same voxels and voxel size, its affine
// changed by `edit`.
template <typename Edit>
std::string rewrite_with_affine(const std::string& dir, const std::string& id, int m, Edit edit) {
  const std::string path = modality_path(dir, id, LabelConvention::kBraTS2021, m);
  const NiftiImage image = read_nifti(path);
  NiftiGeometry geometry = *image.geometry;
  Mat44 affine = geometry.affine();
  edit(affine);
  set_affine(geometry, affine);
  write_nifti(path, image.data, geometry, NiftiDatatype::kFloat32);
  return path;
}

TEST(Brats, AModalityWithAShiftedOriginIsRefusedNamingBothFiles) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c1", LabelConvention::kBraTS2021);
  const std::string flair = rewrite_with_affine(dir, "c1", 3, [](Mat44& a) { a[0][3] += 5; });
  const std::string t1 = modality_path(dir, "c1", LabelConvention::kBraTS2021, 0);
  const std::string msg = error_of([&] { load_case(discover_cases(root.path().string())[0]); });
  EXPECT_EQ(msg.rfind(flair + ": voxel-to-world affine differs from " + t1 + ": origin", 0), 0u)
      << msg;
  EXPECT_NE(msg.find("5 mm apart"), std::string::npos) << msg;
}

TEST(Brats, AMaskWithAFlippedAxisIsRefused) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c1", LabelConvention::kBraTS2021);
  const std::string seg = case_file_name(dir, "c1", LabelConvention::kBraTS2021, "seg");
  const NiftiImage image = read_nifti(seg);
  NiftiGeometry geometry = *image.geometry;
  Mat44 affine = geometry.affine();
  affine[2][2] = -affine[2][2];
  set_affine(geometry, affine);
  write_nifti(seg, image.data, geometry, NiftiDatatype::kUInt8);
  const std::string msg = error_of([&] { load_case(discover_cases(root.path().string())[0]); });
  EXPECT_EQ(msg.rfind(seg + ": voxel-to-world affine differs from ", 0), 0u) << msg;
  EXPECT_NE(msg.find("direction of voxel axis k"), std::string::npos) << msg;
}

TEST(Brats, AnOriginWithinTheToleranceIsAccepted) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c1", LabelConvention::kBraTS2021);
  rewrite_with_affine(dir, "c1", 2, [](Mat44& a) { a[1][3] += 2e-4; });
  EXPECT_NO_THROW(load_case(discover_cases(root.path().string())[0]));
}

TEST(Brats, BothNiiAndNiiGzOfOneModalityAreRefusedNamingBoth) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c1", LabelConvention::kBraTS2021);
  const std::string gz = modality_path(dir, "c1", LabelConvention::kBraTS2021, 0);
  const std::string nii = dir + "/c1_t1.nii";
  write_image(nii, torch::full({4, 5, 3}, 7.0f), {1, 1, 1});
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 1u);
  ASSERT_EQ(cases[0].problems.size(), 1u);
  const std::string msg = error_of([&] { load_case(cases[0]); });
  EXPECT_EQ(msg, nii + " and " + gz + ": both are the t1 file of case c1; remove one of them");
}

TEST(Brats, AFileWhosePrefixDiffersFromItsCaseFolderIsWarnedAboutByName) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c1", LabelConvention::kBraTS2021);
  const std::string stray = dir + "/c2_flair.nii.gz";
  fs::copy_file(modality_path(dir, "c1", LabelConvention::kBraTS2021, 3), stray);
  const auto cases = discover_cases(root.path().string());
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_TRUE(cases[0].warnings.empty());
  ASSERT_EQ(cases[1].warnings.size(), 1u);
  EXPECT_EQ(cases[1].warnings[0],
            stray + ": id prefix 'c2' differs from the case folder's name 'c1'; read as case c2");

  // A renamed case folder: its one case is read under the files' id, with a warning.
  TempDir other;
  make_case(other.path(), "c3", LabelConvention::kBraTS2021);
  fs::rename(other.path() / "c3", other.path() / "renamed");
  const auto renamed = discover_cases(other.path().string());
  ASSERT_EQ(renamed.size(), 1u);
  ASSERT_EQ(renamed[0].warnings.size(), 1u);
  EXPECT_NE(renamed[0].warnings[0].find("differs from the case folder's name 'renamed'"),
            std::string::npos);
}

TEST(Brats, AbsurdIntensitiesAreWarnedAboutNamingTheFile) {
  TempDir root;
  const std::string dir = make_case(root.path(), "c1", LabelConvention::kBraTS2021);
  EXPECT_TRUE(load_case(discover_cases(root.path().string())[0]).warnings.empty());
  const std::string t2 = modality_path(dir, "c1", LabelConvention::kBraTS2021, 2);
  torch::Tensor data = torch::full({4, 5, 3}, 3.0f);
  data[1][1][1] = 1e30f;  // one voxel of 60: the 99.5th percentile stays an ordinary one
  write_image(t2, data, {1, 1, 1});
  const Case c = load_case(discover_cases(root.path().string())[0]);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].rfind(t2 + ": 1 voxel with absurd intensities (up to 1e+30", 0), 0u)
      << c.warnings[0];
}

}  // namespace
}  // namespace revunet::data

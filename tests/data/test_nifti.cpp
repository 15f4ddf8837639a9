#include "revunet/data/nifti.h"

#include <gtest/gtest.h>
#include <nifti2_io.h>
#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "data/temp_dir.h"
#include "revunet/core/error.h"

namespace revunet::data {
namespace {

using testing::error_of;
using testing::TempDir;

// Values every datatype holds exactly, with distinct sizes per axis to catch transposes.
torch::Tensor pattern(NiftiDatatype dtype) {
  torch::Tensor t = torch::arange(5 * 4 * 3, torch::kFloat64).view({5, 4, 3});
  const bool is_signed = dtype == NiftiDatatype::kInt8 || dtype == NiftiDatatype::kInt16 ||
                         dtype == NiftiDatatype::kInt32 || dtype == NiftiDatatype::kInt64;
  if (is_signed) t = t - 30;
  if (dtype == NiftiDatatype::kFloat32 || dtype == NiftiDatatype::kFloat64) t = t * 0.25 - 7;
  return t;
}

struct RawNim {
  nifti_image* nim;
  explicit RawNim(const std::string& path, bool data = false)
      : nim(nifti_image_read(path.c_str(), data ? 1 : 0)) {}
  ~RawNim() { nifti_image_free(nim); }
};

// An int16 image written straight through nifti_clib with header fields we choose.
void write_raw_int16(const std::string& path, const int64_t dims[8], double slope, double inter) {
  nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, 1);
  auto* v = static_cast<int16_t*>(nim->data);
  for (int64_t i = 0; i < nim->nvox; ++i) v[i] = static_cast<int16_t>(i % 7);
  nim->scl_slope = slope;
  nim->scl_inter = inter;
  nifti_set_filenames(nim, path.c_str(), 0, 1);
  nifti_image_write(nim);
  nifti_image_free(nim);
}

TEST(Nifti, RoundTripsEveryDatatypeInNifti1AndNifti2AsNiiAndNiiGz) {
  TempDir dir;
  const NiftiDatatype all[] = {
      NiftiDatatype::kUInt8,  NiftiDatatype::kInt8,    NiftiDatatype::kInt16,
      NiftiDatatype::kUInt16, NiftiDatatype::kInt32,   NiftiDatatype::kUInt32,
      NiftiDatatype::kInt64,  NiftiDatatype::kFloat32, NiftiDatatype::kFloat64};
  for (NiftiDatatype dtype : all) {
    for (int version : {1, 2}) {
      for (const char* ext : {".nii", ".nii.gz"}) {
        const std::string path =
            dir.file(datatype_name(dtype) + "_v" + std::to_string(version) + ext);
        NiftiGeometry g = make_geometry({5, 4, 3}, {0.5, 1.25, 2.0});
        g.nifti_version = version;
        const torch::Tensor data = pattern(dtype);
        write_nifti(path, data, g, dtype);
        const NiftiImage image = read_nifti(path);
        SCOPED_TRACE(path);
        EXPECT_EQ(image.data.scalar_type(), torch::kFloat32);
        EXPECT_EQ(image.data.sizes(), data.sizes());
        EXPECT_TRUE(torch::equal(image.data, data.to(torch::kFloat32)));
        EXPECT_EQ(image.geometry->nifti_version, version);
        EXPECT_EQ(image.geometry->datatype, dtype);
        EXPECT_EQ(image.spacing, (std::array<double, 3>{0.5, 1.25, 2.0}));
        EXPECT_EQ(image.path, path);
      }
    }
  }
  // Only the written files remain: no temporary left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 9 * 2 * 2);
}

TEST(Nifti, StoresTheFirstIndexFastestInTheFile) {
  TempDir dir;
  const std::string path = dir.file("order.nii");
  const torch::Tensor data = pattern(NiftiDatatype::kFloat32).to(torch::kFloat32);
  write_nifti(path, data, make_geometry({5, 4, 3}, {1, 1, 1}), NiftiDatatype::kFloat32);
  RawNim raw(path, true);
  ASSERT_NE(raw.nim, nullptr);
  EXPECT_EQ(raw.nim->nx, 5);
  EXPECT_EQ(raw.nim->nz, 3);
  const auto* v = static_cast<const float*>(raw.nim->data);
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t i = 0; i < 5; ++i)
        EXPECT_EQ(v[i + 5 * (j + 4 * k)], data[i][j][k].item<float>());
}

TEST(Nifti, AppliesSclSlopeAndInterceptAndTreatsSlopeZeroAsNone) {
  TempDir dir;
  const int64_t dims[8] = {3, 4, 3, 2, 1, 1, 1, 1};
  write_raw_int16(dir.file("scaled.nii"), dims, 2.0, 10.0);
  write_raw_int16(dir.file("unscaled.nii"), dims, 0.0, 10.0);
  const torch::Tensor raw = read_nifti(dir.file("unscaled.nii")).data;
  const torch::Tensor scaled = read_nifti(dir.file("scaled.nii")).data;
  EXPECT_TRUE(torch::equal(scaled, raw * 2 + 10));
  EXPECT_EQ(raw.max().item<float>(), 6.0f);
}

TEST(Nifti, WritesALabelMapWithTheReferenceGeometryBitForBit) {
  TempDir dir;
  for (int version : {1, 2}) {
    // An oblique qform and a different sform, with numbers a float cannot hold exactly.
    NiftiGeometry g = make_geometry({6, 5, 4}, {0.9375, 1.1, 2.3});
    g.nifti_version = version;
    const double c = std::cos(0.3), s = std::sin(0.3);
    Mat44 affine = {{{0.9375 * c, -1.1 * s, 0, -91.7},
                     {0.9375 * s, 1.1 * c, 0, -126.3},
                     {0, 0, -2.3, 72.1},
                     {0, 0, 0, 1}}};
    set_affine(g, affine, 1);
    g.sform_code = 4;
    g.sto_xyz[0][1] += 0.01;  // a shear the qform cannot express
    g.xyz_units = NIFTI_UNITS_MM;
    const std::string ref_path = dir.file("ref" + std::to_string(version) + ".nii.gz");
    write_nifti(ref_path, torch::rand({6, 5, 4}), g, NiftiDatatype::kFloat32);
    const NiftiImage reference = read_nifti(ref_path);

    const std::string out = dir.file("labels" + std::to_string(version) + ".nii.gz");
    write_label_map(out, torch::randint(0, 5, {6, 5, 4}, torch::kInt64), reference);
    RawNim a(ref_path), b(out);
    ASSERT_NE(a.nim, nullptr);
    ASSERT_NE(b.nim, nullptr);
    EXPECT_EQ(b.nim->datatype, DT_UINT8);
    EXPECT_EQ(b.nim->nifti_type, a.nim->nifti_type);
    EXPECT_EQ(a.nim->qform_code, b.nim->qform_code);
    EXPECT_EQ(a.nim->sform_code, b.nim->sform_code);
    EXPECT_EQ(b.nim->sform_code, 4);
    EXPECT_EQ(a.nim->xyz_units, b.nim->xyz_units);
    EXPECT_EQ(a.nim->quatern_b, b.nim->quatern_b);
    EXPECT_EQ(a.nim->quatern_c, b.nim->quatern_c);
    EXPECT_EQ(a.nim->quatern_d, b.nim->quatern_d);
    EXPECT_EQ(a.nim->qoffset_x, b.nim->qoffset_x);
    EXPECT_EQ(a.nim->qoffset_y, b.nim->qoffset_y);
    EXPECT_EQ(a.nim->qoffset_z, b.nim->qoffset_z);
    EXPECT_EQ(a.nim->qfac, b.nim->qfac);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(a.nim->pixdim[i], b.nim->pixdim[i]) << "pixdim " << i;
    for (int r = 0; r < 4; ++r) {
      for (int col = 0; col < 4; ++col) {
        EXPECT_EQ(a.nim->qto_xyz.m[r][col], b.nim->qto_xyz.m[r][col]);
        EXPECT_EQ(a.nim->sto_xyz.m[r][col], b.nim->sto_xyz.m[r][col]);
      }
    }
    EXPECT_EQ(read_nifti(out).geometry->orientation(), reference.geometry->orientation());
  }
}

TEST(Nifti, WritesLabelMapsAsUint8OrInt16ByRange) {
  TempDir dir;
  const NiftiGeometry g = make_geometry({3, 3, 3}, {1, 1, 1});
  NiftiImage reference;
  reference.geometry = std::make_shared<NiftiGeometry>(g);
  torch::Tensor labels = torch::zeros({3, 3, 3}, torch::kInt64);
  labels[1][1][1] = 300;
  write_label_map(dir.file("big.nii"), labels, reference);
  EXPECT_EQ(read_nifti(dir.file("big.nii")).geometry->datatype, NiftiDatatype::kInt16);
  EXPECT_EQ(read_nifti(dir.file("big.nii")).data[1][1][1].item<float>(), 300.0f);
}

TEST(Nifti, ReportsSpacingAndRasOrientationOfASyntheticImage) {
  TempDir dir;
  write_image(dir.file("img.nii.gz"), torch::rand({4, 5, 6}), {1.5, 2.0, 3.0});
  const NiftiImage image = read_nifti(dir.file("img.nii.gz"));
  EXPECT_EQ(image.spacing, (std::array<double, 3>{1.5, 2.0, 3.0}));
  EXPECT_EQ(image.geometry->orientation(), "RAS");
  EXPECT_EQ(image.geometry->qform_code, 1);
  EXPECT_EQ(read_nifti_geometry(dir.file("img.nii.gz")).dims, (std::array<int64_t, 3>{4, 5, 6}));
}

TEST(Nifti, RefusesAMissingFileNamingIt) {
  TempDir dir;
  const std::string path = dir.file("absent.nii.gz");
  const std::string msg = error_of([&] { read_nifti(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

TEST(Nifti, RefusesAnEmptyFileNamingIt) {
  TempDir dir;
  const std::string path = dir.file("empty.nii");
  std::ofstream(path).close();
  const std::string msg = error_of([&] { read_nifti(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

void truncate_to_half(const std::string& path) {
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
}

TEST(Nifti, RefusesATruncatedNiiGzNamingIt) {
  TempDir dir;
  const std::string path = dir.file("cut.nii.gz");
  write_image(path, torch::rand({32, 32, 32}), {1, 1, 1});
  truncate_to_half(path);
  const std::string msg = error_of([&] { read_nifti(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Nifti, RefusesATruncatedNiiNamingIt) {
  TempDir dir;
  const std::string path = dir.file("cut.nii");
  write_image(path, torch::rand({16, 16, 16}), {1, 1, 1});
  truncate_to_half(path);
  const std::string msg = error_of([&] { read_nifti(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Nifti, RefusesAFileThatIsNotNifti) {
  TempDir dir;
  const std::string path = dir.file("text.nii");
  std::ofstream(path) << std::string(400, 'x');
  const std::string msg = error_of([&] { read_nifti(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Nifti, RefusesAFourDimensionalImageWithSeveralVolumes) {
  TempDir dir;
  const std::string path = dir.file("four_d.nii.gz");
  const int64_t dims[8] = {4, 3, 3, 3, 2, 1, 1, 1};
  write_raw_int16(path, dims, 0, 0);
  const std::string msg = error_of([&] { read_nifti(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("3-D"), std::string::npos) << msg;
}

TEST(Nifti, AcceptsAFourDimensionalHeaderWithOneVolume) {
  TempDir dir;
  const std::string path = dir.file("one_volume.nii");
  const int64_t dims[8] = {4, 3, 2, 2, 1, 1, 1, 1};
  write_raw_int16(path, dims, 0, 0);
  EXPECT_EQ(read_nifti(path).data.sizes(), (std::vector<int64_t>{3, 2, 2}));
}

TEST(Nifti, RefusesToWriteIntoAMissingFolderNamingTheFile) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/x.nii.gz");
  const std::string msg = error_of([&] { write_image(path, torch::rand({2, 2, 2}), {1, 1, 1}); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Nifti, RefusesAFileNameWithoutANiftiExtension) {
  TempDir dir;
  const std::string path = dir.file("x.img");
  const std::string msg = error_of([&] { write_image(path, torch::rand({2, 2, 2}), {1, 1, 1}); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

// A 3x4x2 int16 image with header fields set by `edit` before nifti_clib writes it.
template <typename Edit>
void write_edited(const std::string& path, const int64_t dims[8], Edit edit) {
  nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, 1);
  edit(*nim);
  nifti_set_filenames(nim, path.c_str(), 0, 1);
  nifti_image_write(nim);
  nifti_image_free(nim);
}

TEST(Nifti, RefusesATwoDimensionalImageSayingItIs2D) {
  TempDir dir;
  const std::string path = dir.file("slice.nii.gz");
  const int64_t dims[8] = {2, 4, 5, 1, 1, 1, 1, 1};
  write_raw_int16(path, dims, 0, 0);
  const std::string msg = error_of([&] { read_nifti(path); });
  EXPECT_NE(msg.find(path + ": is a 2-D image"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4x5"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { read_nifti_geometry(path); }).find("2-D"), std::string::npos);
}

TEST(Nifti, RefusesAZeroNegativeOrNonFiniteVoxelSizeNamingTheFile) {
  TempDir dir;
  const int64_t dims[8] = {3, 3, 4, 2, 1, 1, 1, 1};
  const double sizes[] = {0.0, -1.0, std::nan("")};
  for (int i = 0; i < 3; ++i) {
    const std::string path = dir.file("bad_pixdim" + std::to_string(i) + ".nii");
    write_edited(path, dims, [&](nifti_image& nim) { nim.pixdim[2] = nim.dy = sizes[i]; });
    // nifti_clib writes |dy|: a negative size is put into the file's bytes (pixdim[2], a float at
    // byte 76 + 2 * 4 of a NIfTI-1 header).
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    const float raw = static_cast<float>(sizes[i]);
    file.seekp(76 + 2 * 4);
    file.write(reinterpret_cast<const char*>(&raw), sizeof raw);
    file.close();
    const std::string msg = error_of([&] { read_nifti(path); });
    EXPECT_NE(msg.find(path + ": voxel size pixdim[1..3] = 1 x "), std::string::npos)
        << sizes[i] << ": " << msg;
  }
  const std::string good = dir.file("good.nii");
  write_edited(good, dims, [](nifti_image& nim) { nim.pixdim[3] = nim.dz = 2.5; });
  EXPECT_DOUBLE_EQ(read_nifti(good).spacing[2], 2.5);
}

TEST(Nifti, NiftiClibPrintsNothingOfItsOwnForABrokenFile) {
  TempDir dir;
  const std::string path = dir.file("broken.nii.gz");
  std::ofstream(path) << "this is not a NIfTI file at all, but it is long enough to be read";
  ::testing::internal::CaptureStderr();
  const std::string msg = error_of([&] { read_nifti(path); });
  error_of([&] { read_nifti_geometry(path); });
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_EQ(printed, "");
}

TEST(Nifti, AffineDifferenceNamesAShiftedOriginAndAFlippedAxis) {
  const NiftiGeometry reference = make_geometry({4, 5, 3}, {1, 1, 2});
  EXPECT_EQ(affine_difference(reference, reference), "");

  NiftiGeometry shifted = reference;
  Mat44 affine = reference.affine();
  affine[0][3] += 5;
  set_affine(shifted, affine);
  const std::string msg = affine_difference(shifted, reference);
  EXPECT_NE(msg.find("origin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(5 mm apart)"), std::string::npos) << msg;

  NiftiGeometry rounding = reference;  // float rounding of a rewritten header is no difference
  affine = reference.affine();
  affine[1][3] += 5e-4;
  affine[0][0] *= 1 + 5e-5;
  set_affine(rounding, affine);
  EXPECT_EQ(affine_difference(rounding, reference), "");

  NiftiGeometry flipped = reference;
  affine = reference.affine();
  affine[1][1] = -affine[1][1];
  set_affine(flipped, affine);
  const std::string flip = affine_difference(flipped, reference);
  EXPECT_NE(flip.find("direction of voxel axis j"), std::string::npos) << flip;
  EXPECT_NE(flip.find("RPS vs RAS"), std::string::npos) << flip;

  NiftiGeometry qform_only = reference;  // the sform wins when it is set, else the qform
  qform_only.sform_code = 0;
  EXPECT_EQ(affine_difference(qform_only, reference), "");
  qform_only.qform_code = 0;  // voxel size alone: origin at voxel 0
  EXPECT_NE(affine_difference(qform_only, reference), "");
}

// A full disk without root: RLIMIT_FSIZE caps the size of any file this process writes, and with
// SIGXFSZ ignored a write beyond it fails with EFBIG instead of killing the process. Both are
// restored when the guard goes.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, handler_);
  }

 private:
  rlimit saved_{};
  void (*handler_)(int) = SIG_DFL;
};

TEST(Nifti, AFullDiskLeavesNoTruncatedFileAndNoTemporary) {
  TempDir dir;
  torch::manual_seed(4);
  const torch::Tensor noise = torch::rand({32, 32, 32});  // 128 KiB that gzip cannot shrink much
  for (const std::string name : {"full.nii.gz", "full.nii"}) {
    const std::string path = dir.file(name);
    std::string msg;
    {
      FileSizeLimit limit(16 * 1024);  // the header and some data fit: the rest does not
      msg = error_of([&] { write_image(path, noise, {1, 1, 1}); });
    }
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("disk full"), std::string::npos) << msg;
    EXPECT_FALSE(std::filesystem::exists(path)) << name << " was left truncated";
    EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "a temporary was left beside " << name;
    // With room again the same write lands whole.
    write_image(path, noise, {1, 1, 1});
    EXPECT_TRUE(torch::equal(read_nifti(path).data, noise));
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace revunet::data

// NIfTI-1 and NIfTI-2 images (.nii, .nii.gz) in and out through nifti_clib. A 3-D image becomes a
// float32 tensor {X, Y, Z} in NIfTI index order (i, j, k) with scl_slope/scl_inter applied; its
// header geometry is kept so that label maps can be written with exactly the input's geometry.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace revunet::data {

enum class NiftiDatatype {
  kUInt8,
  kInt8,
  kInt16,
  kUInt16,
  kInt32,
  kUInt32,
  kInt64,
  kFloat32,
  kFloat64
};

std::string datatype_name(NiftiDatatype dtype);  // "uint8", "float32", ...

using Mat44 = std::array<std::array<double, 4>, 4>;

// The header fields that place voxels in space, copied verbatim from the file (NIfTI-1 floats are
// held as the doubles nifti_clib widens them to, which narrow back to the same floats).
struct NiftiGeometry {
  std::array<int64_t, 3> dims{1, 1, 1};
  std::array<double, 8> pixdim{1, 1, 1, 1, 1, 1, 1, 1};  // pixdim[1..3] = voxel size
  int xyz_units = 2;                                     // NIFTI_UNITS_MM
  int time_units = 0;
  int qform_code = 0;
  int sform_code = 0;
  // The quaternion parameters are what a writer stores for the qform; qto_xyz is derived from them.
  double quatern_b = 0, quatern_c = 0, quatern_d = 0;
  double qoffset_x = 0, qoffset_y = 0, qoffset_z = 0;
  double qfac = 1;
  Mat44 qto_xyz{};
  Mat44 sto_xyz{};
  int nifti_version = 1;                             // 1 or 2
  NiftiDatatype datatype = NiftiDatatype::kFloat32;  // of the file it came from
  int freq_dim = 0, phase_dim = 0, slice_dim = 0;

  std::array<double, 3> spacing() const { return {pixdim[1], pixdim[2], pixdim[3]}; }
  // The voxel-to-world affine nifti_clib resolves: the sform when sform_code > 0, else the qform
  // when qform_code > 0, else the voxel size alone (NIfTI's "method 1", origin at voxel 0).
  Mat44 affine() const;
  // Axis codes of voxel index directions from the sform (else qform), e.g. "RAS" or "LPS".
  std::string orientation() const;
};

// A geometry with voxel size `spacing`, qform and sform both a scaled identity (RAS, mm) whose
// origin is at the centre of the grid: what a synthetic image gets.
NiftiGeometry make_geometry(const std::array<int64_t, 3>& dims,
                            const std::array<double, 3>& spacing);

// "" when `image` and `reference` place voxels at the same points in space: translations within
// `translation_mm`, direction cosines (the affine's columns divided by their lengths) within
// `direction`. Otherwise one line saying what differs, e.g. "origin (5, 0, 0) mm differs from
// (0, 0, 0) mm (5 mm apart)". Voxel sizes are compared separately (by the caller).
std::string affine_difference(const NiftiGeometry& image, const NiftiGeometry& reference,
                              double translation_mm = 1e-3, double direction = 1e-4);

// Sets the qform (quaternion, via nifti_clib) and the sform from one affine (i,j,k -> x,y,z mm).
void set_affine(NiftiGeometry& geometry, const Mat44& affine, int code = 1);

struct NiftiImage {
  torch::Tensor data;  // float32 {X, Y, Z}
  std::array<double, 3> spacing{1, 1, 1};
  std::string path;
  std::shared_ptr<const NiftiGeometry> geometry;
};

// Reads a 3-D image (a 4-D one with one volume is fine). Throws revunet::Error naming the file
// when it is missing, empty, truncated, unreadable, 1-D or 2-D (dim[0] < 3), has more than one
// volume, or a voxel size pixdim[1..3] that is 0, negative or not finite (nifti_clib would
// silently take 1 mm). nifti_clib's own stderr messages are switched off (its debug level 0): the
// one-line error is revunet's.
NiftiImage read_nifti(const std::string& path);

// Reads only the header (fast): dims, spacing, geometry.
NiftiGeometry read_nifti_geometry(const std::string& path);

// Writes `data` {X, Y, Z} (any dtype; rounded to integers for integer datatypes, which must hold
// the values) with the reference's geometry copied exactly and no intensity scaling. The NIfTI
// version follows the reference; ".gz" compresses. Written through core::write_via_temporary:
// the temporary file (core::temporary_path_for) is read back and compared byte for byte with what
// was meant (so a full disk or a short gzip stream is caught), then renamed; on any failure the
// temporary is removed and nothing appears under `path`.
void write_nifti_like(const std::string& path, const torch::Tensor& data,
                      const NiftiImage& reference, NiftiDatatype dtype);
void write_nifti(const std::string& path, const torch::Tensor& data, const NiftiGeometry& geometry,
                 NiftiDatatype dtype);

// A label map {X, Y, Z} as uint8 (values 0..255) or int16 otherwise, with the reference geometry.
void write_label_map(const std::string& path, const torch::Tensor& labels,
                     const NiftiImage& reference);

// A float image {X, Y, Z} (float32) with make_geometry(shape, spacing): for synthetic data.
void write_image(const std::string& path, const torch::Tensor& image,
                 const std::array<double, 3>& spacing);

}  // namespace revunet::data

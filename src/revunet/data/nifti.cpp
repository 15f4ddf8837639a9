#include "revunet/data/nifti.h"

#include <nifti2_io.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <sstream>
#include <vector>

#include "revunet/core/atomic_file.h"
#include "revunet/core/error.h"

namespace revunet::data {
namespace fs = std::filesystem;

namespace {

struct DatatypeSpec {
  NiftiDatatype dtype;
  int code;  // NIfTI DT_* code
  const char* name;
};

constexpr DatatypeSpec kDatatypes[] = {
    {NiftiDatatype::kUInt8, DT_UINT8, "uint8"},
    {NiftiDatatype::kInt8, DT_INT8, "int8"},
    {NiftiDatatype::kInt16, DT_INT16, "int16"},
    {NiftiDatatype::kUInt16, DT_UINT16, "uint16"},
    {NiftiDatatype::kInt32, DT_INT32, "int32"},
    {NiftiDatatype::kUInt32, DT_UINT32, "uint32"},
    {NiftiDatatype::kInt64, DT_INT64, "int64"},
    {NiftiDatatype::kFloat32, DT_FLOAT32, "float32"},
    {NiftiDatatype::kFloat64, DT_FLOAT64, "float64"},
};

const DatatypeSpec& spec_of(NiftiDatatype dtype) {
  for (const auto& s : kDatatypes) {
    if (s.dtype == dtype) return s;
  }
  TORCH_CHECK(false, "unknown NiftiDatatype ", static_cast<int>(dtype));
  return kDatatypes[0];
}

const DatatypeSpec* spec_of_code(int code) {
  for (const auto& s : kDatatypes) {
    if (s.code == code) return &s;
  }
  return nullptr;
}

struct NimDeleter {
  void operator()(nifti_image* nim) const { nifti_image_free(nim); }
};
using NimPtr = std::unique_ptr<nifti_image, NimDeleter>;

Mat44 to_mat(const nifti_dmat44& m) {
  Mat44 out{};
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) out[r][c] = m.m[r][c];
  }
  return out;
}

nifti_dmat44 to_dmat(const Mat44& m) {
  nifti_dmat44 out{};
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) out.m[r][c] = m[r][c];
  }
  return out;
}

void check_readable_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "no such file");
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file");
  if (fs::file_size(path, ec) == 0) fail(path, "empty file");
}

bool is_gz(const std::string& path) {
  return path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
}

std::string nifti_extension(const std::string& path) {
  for (const char* ext : {".nii.gz", ".nii"}) {
    const std::string e = ext;
    if (path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0) return e;
  }
  fail(path, "expected a file name ending in .nii or .nii.gz");
}

NiftiGeometry geometry_of(const nifti_image& nim) {
  NiftiGeometry g;
  g.dims = {nim.nx, nim.ny, nim.nz};
  for (int i = 0; i < 8; ++i) g.pixdim[i] = nim.pixdim[i];
  g.xyz_units = nim.xyz_units;
  g.time_units = nim.time_units;
  g.qform_code = nim.qform_code;
  g.sform_code = nim.sform_code;
  g.quatern_b = nim.quatern_b;
  g.quatern_c = nim.quatern_c;
  g.quatern_d = nim.quatern_d;
  g.qoffset_x = nim.qoffset_x;
  g.qoffset_y = nim.qoffset_y;
  g.qoffset_z = nim.qoffset_z;
  g.qfac = nim.qfac;
  g.qto_xyz = to_mat(nim.qto_xyz);
  g.sto_xyz = to_mat(nim.sto_xyz);
  // nifti_clib 3.0.1 marks single-file NIfTI-2 images NIFTI_FTYPE_NIFTI1_1: ask the header.
  int version = 1;
  if (void* header = nifti_read_header(nim.fname, &version, 0)) std::free(header);
  g.nifti_version = version == 2 ? 2 : 1;
  const DatatypeSpec* spec = spec_of_code(nim.datatype);
  g.datatype = spec ? spec->dtype : NiftiDatatype::kFloat32;
  g.freq_dim = nim.freq_dim;
  g.phase_dim = nim.phase_dim;
  g.slice_dim = nim.slice_dim;
  return g;
}

// nifti_image_load silently turns NaN and Inf floats into 0; float data is read unaltered here
// (nifti_clib's znz stream and byte swap) so that load_case can refuse non-finite values.
bool load_raw(nifti_image& nim) {
  const size_t bytes = static_cast<size_t>(nim.nvox) * static_cast<size_t>(nim.nbyper);
  znzFile fp = znzopen(nim.iname, "rb", nifti_is_gzfile(nim.iname));
  if (znz_isnull(fp)) return false;
  void* data = std::malloc(bytes);  // freed by nifti_image_free
  const bool ok =
      data && znzseek(fp, nim.iname_offset, SEEK_SET) >= 0 && znzread(data, 1, bytes, fp) == bytes;
  znzclose(fp);
  if (!ok) {
    std::free(data);
    return false;
  }
  if (nim.byteorder != nifti_short_order() && nim.swapsize > 1) {
    nifti_swap_Nbytes(nim.nvox, nim.swapsize, data);
  }
  nim.data = data;
  return true;
}

// nifti_clib prints "** ERROR ..." / "++ WARNING ..." lines on stderr before revunet's own
// one-line error; at debug level 0 it keeps quiet (its failures are still return values, which
// every caller here checks). The level is nifti_clib's global, set once.
void silence_nifti_clib() {
  static std::once_flag once;
  std::call_once(once, [] { nifti_set_debug_level(0); });
}

// nifti_clib replaces a zero or non-finite pixdim[1..3] by 1 (and a negative one by its absolute
// value in the qform) when it builds the image: the raw header still has what the file says.
void check_voxel_size(const std::string& path) {
  int version = 1;
  void* header = nifti_read_header(path.c_str(), &version, 1);
  if (!header) fail(path, "not a readable NIfTI header");
  double size[3];
  for (int d = 0; d < 3; ++d) {
    size[d] = version == 2 ? static_cast<nifti_2_header*>(header)->pixdim[d + 1]
                           : static_cast<nifti_1_header*>(header)->pixdim[d + 1];
  }
  std::free(header);
  for (int d = 0; d < 3; ++d) {
    if (!(std::isfinite(size[d]) && size[d] > 0)) {
      std::ostringstream msg;
      msg << "voxel size pixdim[1..3] = " << size[0] << " x " << size[1] << " x " << size[2]
          << "; every voxel size must be positive and finite (fix the header, e.g. with "
             "fslchpixdim or nibabel)";
      fail(path, msg.str());
    }
  }
}

NimPtr read_checked(const std::string& path, bool read_data) {
  silence_nifti_clib();
  check_readable_file(path);
  NimPtr nim(nifti_image_read(path.c_str(), 0));
  if (!nim) fail(path, "not a readable NIfTI header");
  if (nim->dim[0] < 3) {
    std::ostringstream msg;
    msg << "is a " << nim->dim[0] << "-D image (dim[0] = " << nim->dim[0] << ", ";
    for (int d = 1; d <= std::max<int64_t>(nim->dim[0], 1); ++d) {
      msg << (d > 1 ? "x" : "") << nim->dim[d];
    }
    msg << " voxels); expected a 3-D volume";
    fail(path, msg.str());
  }
  for (int d = 4; d <= 7; ++d) {
    if (nim->dim[0] >= d && nim->dim[d] > 1) {
      std::ostringstream msg;
      msg << "expected a 3-D image, found " << nim->dim[0] << "-D with dim[" << d
          << "] = " << nim->dim[d];
      fail(path, msg.str());
    }
  }
  if (nim->nx < 1 || nim->ny < 1 || nim->nz < 1) fail(path, "image has an empty dimension");
  check_voxel_size(path);
  if (!read_data) return nim;
  if (!spec_of_code(nim->datatype)) {
    fail(path, std::string("unsupported datatype ") + nifti_datatype_to_string(nim->datatype) +
                   " (expected an integer or float type)");
  }
  const bool is_float = nim->datatype == DT_FLOAT32 || nim->datatype == DT_FLOAT64;
  if (is_float ? !load_raw(*nim) : (nifti_image_load(nim.get()) < 0 || !nim->data)) {
    fail(path, "voxel data truncated or corrupt");
  }
  return nim;
}

template <typename T>
void widen(const void* src, float* dst, int64_t n, bool scaled, double slope, double inter) {
  const T* s = static_cast<const T*>(src);
  if (scaled) {
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = static_cast<float>(static_cast<double>(s[i]) * slope + inter);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
  }
}

void widen_any(NiftiDatatype dtype, const void* src, float* dst, int64_t n, bool scaled,
               double slope, double inter) {
  switch (dtype) {
    case NiftiDatatype::kUInt8:
      return widen<uint8_t>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kInt8:
      return widen<int8_t>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kInt16:
      return widen<int16_t>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kUInt16:
      return widen<uint16_t>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kInt32:
      return widen<int32_t>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kUInt32:
      return widen<uint32_t>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kInt64:
      return widen<int64_t>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kFloat32:
      return widen<float>(src, dst, n, scaled, slope, inter);
    case NiftiDatatype::kFloat64:
      return widen<double>(src, dst, n, scaled, slope, inter);
  }
}

// Narrows double values into the file's type; integer types round and must hold the value.
template <typename T>
std::vector<uint8_t> narrow(const double* src, int64_t n) {
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * sizeof(T));
  T* dst = reinterpret_cast<T*>(bytes.data());
  for (int64_t i = 0; i < n; ++i) {
    double v = src[i];
    if (std::numeric_limits<T>::is_integer) {
      v = std::nearbyint(v);
      TORCH_CHECK(v >= static_cast<double>(std::numeric_limits<T>::lowest()) &&
                      v <= static_cast<double>(std::numeric_limits<T>::max()),
                  "value ", src[i], " does not fit the NIfTI datatype");
    }
    dst[i] = static_cast<T>(v);
  }
  return bytes;
}

std::vector<uint8_t> narrow_any(NiftiDatatype dtype, const double* src, int64_t n) {
  switch (dtype) {
    case NiftiDatatype::kUInt8:
      return narrow<uint8_t>(src, n);
    case NiftiDatatype::kInt8:
      return narrow<int8_t>(src, n);
    case NiftiDatatype::kInt16:
      return narrow<int16_t>(src, n);
    case NiftiDatatype::kUInt16:
      return narrow<uint16_t>(src, n);
    case NiftiDatatype::kInt32:
      return narrow<int32_t>(src, n);
    case NiftiDatatype::kUInt32:
      return narrow<uint32_t>(src, n);
    case NiftiDatatype::kInt64:
      return narrow<int64_t>(src, n);
    case NiftiDatatype::kFloat32:
      return narrow<float>(src, n);
    case NiftiDatatype::kFloat64:
      return narrow<double>(src, n);
  }
  return {};
}

// The whole file: header (built by nifti_clib from `nim`), the empty extension flag, the data.
// Written through znz ourselves for both versions: nifti_clib 3.0.1's nifti_image_write puts
// single-file NIfTI-2 data at offset 0, over the header (nifti_set_iname_offset has no NIfTI-2
// case), and reports write failures (a full disk) only on stderr.
std::string header_bytes(const nifti_image& nim, int version, const std::string& path) {
  std::string bytes;
  if (version == 2) {
    nifti_2_header hdr;
    if (nifti_convert_nim2n2hdr(&nim, &hdr) != 0) fail(path, "nifti_clib could not build a header");
    hdr.vox_offset = sizeof(nifti_2_header) + 4;
    bytes.assign(reinterpret_cast<const char*>(&hdr), sizeof hdr);
  } else {
    nifti_1_header hdr;
    if (nifti_convert_nim2n1hdr(&nim, &hdr) != 0) fail(path, "nifti_clib could not build a header");
    hdr.vox_offset = sizeof(nifti_1_header) + 4;
    bytes.assign(reinterpret_cast<const char*>(&hdr), sizeof hdr);
  }
  bytes.append(4, '\0');  // extension flag: no extensions
  return bytes;
}

// Writes `parts` one after the other to `file` (gzip when `gz`), then reads the file back and
// compares it with them byte for byte: a short write, a failed gzip flush or close, or a full disk
// anywhere is caught here rather than by the next reader.
void write_and_verify(const std::string& file, bool gz, const std::string& path,
                      const std::vector<std::pair<const void*, size_t>>& parts) {
  znzFile out = znzopen(file.c_str(), "wb", gz);
  if (znz_isnull(out)) {
    fail(path,
         "cannot open a temporary file beside it for writing (folder missing or not "
         "writable?)");
  }
  bool ok = true;
  for (const auto& [data, size] : parts) {
    ok = ok && znzwrite(data, 1, size, out) == size;
  }
  ok = znzclose(out) == 0 && ok;
  if (!ok) fail(path, "write failed (disk full?); nothing was written under this name");

  znzFile in = znzopen(file.c_str(), "rb", gz);
  if (znz_isnull(in)) fail(path, "the written file cannot be reopened");
  std::vector<char> chunk(1 << 20);
  for (const auto& [data, size] : parts) {
    const char* expected = static_cast<const char*>(data);
    for (size_t done = 0; ok && done < size;) {
      const size_t n = std::min(chunk.size(), size - done);
      ok = znzread(chunk.data(), 1, n, in) == n &&
           std::memcmp(chunk.data(), expected + done, n) == 0;
      done += n;
    }
  }
  char extra;
  ok = ok && znzread(&extra, 1, 1, in) == 0;
  znzclose(in);
  if (!ok) {
    fail(path,
         "the written file does not read back as written (disk full?); nothing was "
         "written under this name");
  }
}

}  // namespace

std::string datatype_name(NiftiDatatype dtype) {
  return spec_of(dtype).name;
}

std::string NiftiGeometry::orientation() const {
  const Mat44* m = sform_code > 0 ? &sto_xyz : (qform_code > 0 ? &qto_xyz : nullptr);
  if (!m) return "unknown";
  int codes[3] = {0, 0, 0};
  nifti_dmat44_to_orientation(to_dmat(*m), &codes[0], &codes[1], &codes[2]);
  std::string out;
  for (int c : codes) {
    switch (c) {
      case NIFTI_L2R:
        out += 'R';
        break;
      case NIFTI_R2L:
        out += 'L';
        break;
      case NIFTI_P2A:
        out += 'A';
        break;
      case NIFTI_A2P:
        out += 'P';
        break;
      case NIFTI_I2S:
        out += 'S';
        break;
      case NIFTI_S2I:
        out += 'I';
        break;
      default:
        out += '?';
    }
  }
  return out;
}

Mat44 NiftiGeometry::affine() const {
  if (sform_code > 0) return sto_xyz;
  if (qform_code > 0) return qto_xyz;
  Mat44 m{};
  for (int d = 0; d < 3; ++d) m[d][d] = pixdim[d + 1];
  m[3][3] = 1;
  return m;
}

std::string affine_difference(const NiftiGeometry& image, const NiftiGeometry& reference,
                              double translation_mm, double direction) {
  const Mat44 a = image.affine(), b = reference.affine();
  auto vector_text = [](const Mat44& m, int column, double scale) {
    std::ostringstream out;
    out << "(" << m[0][column] / scale << ", " << m[1][column] / scale << ", "
        << m[2][column] / scale << ")";
    return out.str();
  };
  double shift = 0;
  for (int r = 0; r < 3; ++r) shift = std::max(shift, std::abs(a[r][3] - b[r][3]));
  if (!(shift <= translation_mm)) {
    const double distance =
        std::sqrt(std::pow(a[0][3] - b[0][3], 2) + std::pow(a[1][3] - b[1][3], 2) +
                  std::pow(a[2][3] - b[2][3], 2));
    std::ostringstream msg;
    msg << "origin " << vector_text(a, 3, 1) << " mm differs from " << vector_text(b, 3, 1)
        << " mm (" << distance << " mm apart)";
    return msg.str();
  }
  for (int c = 0; c < 3; ++c) {
    double la = 0, lb = 0;
    for (int r = 0; r < 3; ++r) {
      la += a[r][c] * a[r][c];
      lb += b[r][c] * b[r][c];
    }
    la = std::sqrt(la);
    lb = std::sqrt(lb);
    if (la == 0 || lb == 0) continue;  // a degenerate axis: the voxel-size check names it
    double worst = 0;
    for (int r = 0; r < 3; ++r) worst = std::max(worst, std::abs(a[r][c] / la - b[r][c] / lb));
    if (!(worst <= direction)) {
      std::ostringstream msg;
      msg << "direction of voxel axis "
          << "ijk"[c] << " " << vector_text(a, c, la) << " differs from " << vector_text(b, c, lb)
          << " (orientation " << image.orientation() << " vs " << reference.orientation() << ")";
      return msg.str();
    }
  }
  return "";
}

void set_affine(NiftiGeometry& g, const Mat44& affine, int code) {
  double qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
  nifti_dmat44_to_quatern(to_dmat(affine), &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
  g.quatern_b = qb;
  g.quatern_c = qc;
  g.quatern_d = qd;
  g.qoffset_x = qx;
  g.qoffset_y = qy;
  g.qoffset_z = qz;
  g.qfac = qfac;
  g.pixdim[0] = qfac;
  g.pixdim[1] = dx;
  g.pixdim[2] = dy;
  g.pixdim[3] = dz;
  g.qto_xyz = to_mat(nifti_quatern_to_dmat44(qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac));
  g.sto_xyz = affine;
  g.qform_code = code;
  g.sform_code = code;
}

NiftiGeometry make_geometry(const std::array<int64_t, 3>& dims,
                            const std::array<double, 3>& spacing) {
  NiftiGeometry g;
  g.dims = dims;
  Mat44 affine{};
  for (int d = 0; d < 3; ++d) {
    TORCH_CHECK(spacing[d] > 0, "voxel spacing must be positive, got ", spacing[d]);
    affine[d][d] = spacing[d];
    affine[d][3] = -0.5 * static_cast<double>(dims[d] - 1) * spacing[d];
  }
  affine[3][3] = 1;
  set_affine(g, affine, NIFTI_XFORM_SCANNER_ANAT);
  g.xyz_units = NIFTI_UNITS_MM;
  return g;
}

NiftiGeometry read_nifti_geometry(const std::string& path) {
  return geometry_of(*read_checked(path, false));
}

NiftiImage read_nifti(const std::string& path) {
  NimPtr nim = read_checked(path, true);
  const NiftiDatatype dtype = spec_of_code(nim->datatype)->dtype;
  const double slope = nim->scl_slope, inter = nim->scl_inter;
  const bool scaled = slope != 0.0 && std::isfinite(slope) && !(slope == 1.0 && inter == 0.0);
  // The file holds i fastest: as a C-ordered tensor that is {Z, Y, X}.
  torch::Tensor zyx = torch::empty({nim->nz, nim->ny, nim->nx}, torch::kFloat32);
  widen_any(dtype, nim->data, zyx.data_ptr<float>(), zyx.numel(), scaled, slope,
            std::isfinite(inter) ? inter : 0.0);

  NiftiImage image;
  image.data = zyx.permute({2, 1, 0}).contiguous();
  auto geometry = std::make_shared<NiftiGeometry>(geometry_of(*nim));
  image.spacing = geometry->spacing();
  image.geometry = std::move(geometry);
  image.path = path;
  return image;
}

void write_nifti(const std::string& path, const torch::Tensor& data, const NiftiGeometry& geometry,
                 NiftiDatatype dtype) {
  TORCH_CHECK(data.dim() == 3, "write_nifti expects a {X, Y, Z} tensor, got ", data.sizes());
  TORCH_CHECK(data.size(0) == geometry.dims[0] && data.size(1) == geometry.dims[1] &&
                  data.size(2) == geometry.dims[2],
              "tensor ", data.sizes(), " does not match the reference grid ", geometry.dims[0], "x",
              geometry.dims[1], "x", geometry.dims[2]);
  nifti_extension(path);  // refuses a name that is not .nii or .nii.gz
  silence_nifti_clib();
  torch::Tensor zyx =
      data.detach().to(torch::kCPU, torch::kFloat64).permute({2, 1, 0}).contiguous();
  std::vector<uint8_t> bytes = narrow_any(dtype, zyx.data_ptr<double>(), zyx.numel());

  const int64_t dims[8] = {3, data.size(0), data.size(1), data.size(2), 1, 1, 1, 1};
  NimPtr nim(nifti_make_new_nim(dims, spec_of(dtype).code, 0));
  if (!nim) fail(path, "nifti_clib could not create an image header");
  for (int i = 0; i < 8; ++i) nim->pixdim[i] = geometry.pixdim[i];
  nim->dx = geometry.pixdim[1];
  nim->dy = geometry.pixdim[2];
  nim->dz = geometry.pixdim[3];
  nim->dt = geometry.pixdim[4];
  nim->du = geometry.pixdim[5];
  nim->dv = geometry.pixdim[6];
  nim->dw = geometry.pixdim[7];
  nim->xyz_units = geometry.xyz_units;
  nim->time_units = geometry.time_units;
  nim->qform_code = geometry.qform_code;
  nim->sform_code = geometry.sform_code;
  nim->quatern_b = geometry.quatern_b;
  nim->quatern_c = geometry.quatern_c;
  nim->quatern_d = geometry.quatern_d;
  nim->qoffset_x = geometry.qoffset_x;
  nim->qoffset_y = geometry.qoffset_y;
  nim->qoffset_z = geometry.qoffset_z;
  nim->qfac = geometry.qfac;
  nim->qto_xyz = to_dmat(geometry.qto_xyz);
  nim->qto_ijk = nifti_dmat44_inverse(nim->qto_xyz);
  nim->sto_xyz = to_dmat(geometry.sto_xyz);
  nim->sto_ijk = nifti_dmat44_inverse(nim->sto_xyz);
  nim->freq_dim = geometry.freq_dim;
  nim->phase_dim = geometry.phase_dim;
  nim->slice_dim = geometry.slice_dim;
  nim->scl_slope = 1.0;
  nim->scl_inter = 0.0;
  nim->nifti_type = geometry.nifti_version == 2 ? NIFTI_FTYPE_NIFTI2_1 : NIFTI_FTYPE_NIFTI1_1;
  std::snprintf(nim->descrip, sizeof(nim->descrip), "revunet");

  // nifti_convert_nim2n*hdr writes the magic from the type: "n+1" / "n+2" (single file).
  const int version = geometry.nifti_version == 2 ? 2 : 1;
  const std::string header = header_bytes(*nim, version, path);
  core::write_via_temporary(path, [&](const std::string& tmp) {
    write_and_verify(tmp, is_gz(path), path,
                     {{header.data(), header.size()}, {bytes.data(), bytes.size()}});
  });
}

void write_nifti_like(const std::string& path, const torch::Tensor& data,
                      const NiftiImage& reference, NiftiDatatype dtype) {
  TORCH_CHECK(reference.geometry, "write_nifti_like: the reference image has no geometry");
  write_nifti(path, data, *reference.geometry, dtype);
}

void write_label_map(const std::string& path, const torch::Tensor& labels,
                     const NiftiImage& reference) {
  TORCH_CHECK(!labels.is_floating_point() || torch::equal(labels, labels.round()),
              "write_label_map expects integer labels");
  const bool fits_uint8 = labels.numel() == 0 ||
                          (labels.min().item<double>() >= 0 && labels.max().item<double>() <= 255);
  write_nifti_like(path, labels, reference,
                   fits_uint8 ? NiftiDatatype::kUInt8 : NiftiDatatype::kInt16);
}

void write_image(const std::string& path, const torch::Tensor& image,
                 const std::array<double, 3>& spacing) {
  TORCH_CHECK(image.dim() == 3, "write_image expects a {X, Y, Z} tensor, got ", image.sizes());
  write_nifti(path, image, make_geometry({image.size(0), image.size(1), image.size(2)}, spacing),
              NiftiDatatype::kFloat32);
}

}  // namespace revunet::data

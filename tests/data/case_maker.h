// Writes tiny BraTS-style case folders for the data tests.
#pragma once

#include <filesystem>
#include <string>

#include "revunet/data/brats.h"
#include "revunet/data/nifti.h"

namespace revunet::data::testing {

constexpr std::array<int64_t, 3> kTinyShape = {4, 5, 3};

// <root>/<id>/<id>_t1<ext> ... with modality m filled with m+1 (a tumour-free brain), and a mask
// holding each tumour label of the convention once when `with_seg`.
inline std::string make_case(const std::filesystem::path& root, const std::string& id,
                             LabelConvention convention, bool with_seg = true,
                             const std::string& ext = ".nii.gz") {
  const auto& spec = convention_spec(convention);
  const std::filesystem::path dir = root / id;
  std::filesystem::create_directories(dir);
  const auto name = [&](const std::string& suffix) {
    return (dir / (id + spec.separator + suffix + ext)).string();
  };
  for (int m = 0; m < kNumModalities; ++m) {
    write_image(name(spec.modalities[m]), torch::full({4, 5, 3}, m + 1.0f), {1, 1, 1});
  }
  if (with_seg) {
    torch::Tensor labels = torch::zeros({4, 5, 3}, torch::kInt64);
    labels[0][0][0] = spec.ncr;
    labels[1][0][0] = spec.ed;
    labels[2][0][0] = spec.et;
    write_nifti(name(spec.seg), labels, make_geometry(kTinyShape, {1, 1, 1}),
                NiftiDatatype::kUInt8);
  }
  return dir.string();
}

inline std::string modality_path(const std::string& dir, const std::string& id,
                                 LabelConvention convention, int m) {
  return case_file_name(dir, id, convention, convention_spec(convention).modalities[m]);
}

}  // namespace revunet::data::testing

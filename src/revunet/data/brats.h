// BraTS cases on disk: the two naming/label conventions as one table, case discovery (one folder
// per case, or cases sharing one folder by id prefix) and loading a case into tensors.
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

#include "revunet/data/nifti.h"

namespace revunet::data {

enum class LabelConvention { kBraTS2021, kBraTS2023 };

constexpr int kNumModalities = 4;

// One row per convention: file naming and the label value of each tumour class.
struct ConventionSpec {
  LabelConvention convention;
  const char* key;                                     // "2021", "2023": what --convention takes
  const char* title;                                   // "BraTS 2018-2021"
  const char* separator;                               // between the id and the suffix: "_" or "-"
  std::array<const char*, kNumModalities> modalities;  // t1, t1ce, t2, flair (or 2023 names)
  const char* seg;
  int64_t ncr;          // necrotic tumour core
  int64_t ed;           // oedema (2023: surrounding non-enhancing FLAIR hyperintensity, SNFH)
  int64_t et;           // enhancing tumour
  const char* ed_name;  // "ED" or "SNFH"
};

const std::vector<ConventionSpec>& conventions();
const ConventionSpec& convention_spec(LabelConvention convention);
// "2021"/"brats2021" or "2023"/"brats2023"; throws revunet::Error naming `what` otherwise.
LabelConvention parse_convention(const std::string& text, const std::string& what = "--convention");
// All label values of a convention, background first: {0, 1, 2, 4} or {0, 1, 2, 3}.
std::vector<int64_t> label_values(LabelConvention convention);
// "<dir>/<id><sep><suffix>.nii.gz"
std::string case_file_name(const std::string& dir, const std::string& id,
                           LabelConvention convention, const std::string& suffix);

struct CaseFiles {
  std::string id;
  std::string dir;
  LabelConvention convention = LabelConvention::kBraTS2021;
  std::array<std::string, kNumModalities> modalities;  // empty = missing
  std::string seg;                                     // empty = none (inference only)
  std::vector<std::string> seg_tried;                  // names looked for when seg is empty
  // Found while discovering, one line each naming the files. A problem (both X_t1.nii and
  // X_t1.nii.gz: which one is meant?) makes load_case refuse the case; a warning (a file whose id
  // prefix differs from its case folder's name) is for the user to read.
  std::vector<std::string> problems;
  std::vector<std::string> warnings;
};

// Every case under `dir`, sorted by id: each sub-folder holding case files, and files directly in
// `dir` grouped by id prefix. A folder holding one case whose mask has an unexpected name (one
// widely used BraTS 2020 mirror has "W39_1998.09.19_Segm.nii") takes the folder's only other NIfTI
// file whose name contains "seg". Throws revunet::Error when `dir` is missing, holds no case, or
// two cases share an id.
std::vector<CaseFiles> discover_cases(const std::string& dir);

// "no segmentation mask for case X: tried a, b, ..." for a case without one.
std::string missing_seg_message(const CaseFiles& files);

struct Case {
  std::string id;
  torch::Tensor image;   // float32 {4, X, Y, Z}, modality order of the convention table
  torch::Tensor label;   // int64 {X, Y, Z}, or undefined when the case has no mask
  NiftiImage reference;  // first modality (data kept): the geometry for writing predictions
  LabelConvention convention = LabelConvention::kBraTS2021;
  // One line each, naming the file: the discovery's warnings and absurd intensities (voxels
  // beyond intensity_fences(modality, kAbsurdWidths), which preprocessing clips).
  std::vector<std::string> warnings;
};

// Voxels this many percentile ranges beyond the 0.5th/99.5th percentiles are "absurd": warned
// about by name (the clipping before z-scoring happens either way).
constexpr double kAbsurdWidths = 100;

// Loads and checks a case. One-line revunet::Error naming the file for: a problem found while
// discovering (files.problems), a missing modality, modalities or mask of another shape, spacing
// or voxel-to-world affine than the first modality (affine_difference's tolerances), a label
// value outside the convention, NaN/Inf.
Case load_case(const CaseFiles& files);

// Throws revunet::Error naming image.path when any voxel is NaN or infinite.
void check_finite(const NiftiImage& image);

}  // namespace revunet::data

#include "revunet/data/brats.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>

#include "revunet/core/error.h"
#include "revunet/data/preprocess.h"

namespace revunet::data {
namespace fs = std::filesystem;

const std::vector<ConventionSpec>& conventions() {
  static const std::vector<ConventionSpec> table = {
      {LabelConvention::kBraTS2021,
       "2021",
       "BraTS 2018-2021",
       "_",
       {"t1", "t1ce", "t2", "flair"},
       "seg",
       1,
       2,
       4,
       "ED"},
      {LabelConvention::kBraTS2023,
       "2023",
       "BraTS 2023",
       "-",
       {"t1n", "t1c", "t2w", "t2f"},
       "seg",
       1,
       2,
       3,
       "SNFH"},
  };
  return table;
}

const ConventionSpec& convention_spec(LabelConvention convention) {
  for (const auto& c : conventions()) {
    if (c.convention == convention) return c;
  }
  TORCH_CHECK(false, "unknown LabelConvention ", static_cast<int>(convention));
  return conventions().front();
}

LabelConvention parse_convention(const std::string& text, const std::string& what) {
  for (const auto& c : conventions()) {
    if (text == c.key || text == std::string("brats") + c.key) return c.convention;
  }
  fail(what, "unknown label convention '" + text + "'; expected 2021 or 2023");
}

std::vector<int64_t> label_values(LabelConvention convention) {
  const auto& c = convention_spec(convention);
  std::vector<int64_t> values = {0, c.ncr, c.ed, c.et};
  std::sort(values.begin(), values.end());
  return values;
}

std::string case_file_name(const std::string& dir, const std::string& id,
                           LabelConvention convention, const std::string& suffix) {
  return (fs::path(dir) / (id + convention_spec(convention).separator + suffix + ".nii.gz"))
      .string();
}

namespace {

constexpr int kSegRole = kNumModalities;

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The name without ".nii.gz" / ".nii" (any case), or nothing when it is not a NIfTI file.
std::optional<std::string> nifti_stem(const std::string& name) {
  const std::string l = lower(name);
  for (const char* ext : {".nii.gz", ".nii"}) {
    if (ends_with(l, ext) && l.size() > std::strlen(ext)) {
      return name.substr(0, name.size() - std::strlen(ext));
    }
  }
  return std::nullopt;
}

struct Match {
  LabelConvention convention;
  std::string id;
  int role;  // 0..3 modality, 4 mask
};

std::optional<Match> match_file(const std::string& name) {
  const auto stem = nifti_stem(name);
  if (!stem) return std::nullopt;
  const std::string l = lower(*stem);
  for (const auto& c : conventions()) {
    for (int role = 0; role <= kSegRole; ++role) {
      const std::string suffix =
          std::string(c.separator) + (role < kSegRole ? c.modalities[role] : c.seg);
      if (l.size() > suffix.size() && ends_with(l, suffix)) {
        return Match{c.convention, stem->substr(0, stem->size() - suffix.size()), role};
      }
    }
  }
  return std::nullopt;
}

bool has_gz_suffix(const std::string& path) {
  return ends_with(lower(path), ".gz");
}

// Files of one folder grouped into cases; `case_folder` when the folder is one case's own.
void scan_folder(const fs::path& folder, bool case_folder, std::vector<CaseFiles>& out) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  std::map<std::pair<int, std::string>, CaseFiles> groups;
  std::vector<fs::path> unmatched;
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    const auto m = match_file(name);
    if (!m) {
      if (nifti_stem(name)) unmatched.push_back(file);
      continue;
    }
    CaseFiles& c = groups[{static_cast<int>(m->convention), m->id}];
    c.id = m->id;
    c.dir = folder.string();
    c.convention = m->convention;
    std::string& slot = m->role < kSegRole ? c.modalities[m->role] : c.seg;
    if (!slot.empty()) {
      // Both X_t1.nii and X_t1.nii.gz (or names differing only in case): nothing says which one
      // is meant, and they need not hold the same image.
      const auto& spec = convention_spec(m->convention);
      c.problems.push_back(slot + " and " + file.string() + ": both are the " +
                           (m->role < kSegRole ? spec.modalities[m->role] : spec.seg) +
                           " file of case " + m->id + "; remove one of them");
    }
    // The compressed one is listed, deterministically (load_case refuses the case anyway).
    if (slot.empty() || (has_gz_suffix(file.string()) && !has_gz_suffix(slot)))
      slot = file.string();
  }

  // A case folder is named after its case: a file with another id prefix was probably copied
  // into the wrong folder (it becomes a case of its own, usually an incomplete one). A folder
  // holding several cases none of which carries its name is a flat folder of cases: no warning.
  const std::string folder_name = folder.filename().string();
  bool named_after_a_case = false;
  for (const auto& [key, c] : groups) named_after_a_case |= c.id == folder_name;
  if (case_folder && (named_after_a_case || groups.size() == 1)) {
    for (auto& [key, c] : groups) {
      if (c.id == folder_name) continue;
      std::vector<std::string> names;
      for (const auto& m : c.modalities) {
        if (!m.empty()) names.push_back(m);
      }
      if (!c.seg.empty()) names.push_back(c.seg);
      std::string list;
      for (size_t i = 0; i < names.size(); ++i) list += (i ? ", " : "") + names[i];
      c.warnings.push_back(list + ": id prefix '" + c.id +
                           "' differs from the case folder's name '" + folder_name +
                           "'; read as case " + c.id);
    }
  }

  for (auto& [key, c] : groups) {
    if (!c.seg.empty()) continue;
    const auto& spec = convention_spec(c.convention);
    const std::string base = c.id + spec.separator + spec.seg;
    c.seg_tried = {base + ".nii.gz", base + ".nii"};
    if (case_folder && groups.size() == 1) {
      std::vector<fs::path> candidates;
      for (const auto& f : unmatched) {
        if (lower(f.filename().string()).find("seg") != std::string::npos) candidates.push_back(f);
      }
      c.seg_tried.push_back("the folder's only other *seg*.nii[.gz] file");
      if (candidates.size() == 1) {
        c.seg = candidates.front().string();
        c.seg_tried.clear();
      }
    }
  }
  for (auto& [key, c] : groups) out.push_back(std::move(c));
}

}  // namespace

std::vector<CaseFiles> discover_cases(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "no such directory");
  std::vector<CaseFiles> cases;
  scan_folder(dir, false, cases);
  std::vector<fs::path> subdirs;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory()) subdirs.push_back(entry.path());
  }
  std::sort(subdirs.begin(), subdirs.end());
  for (const auto& sub : subdirs) scan_folder(sub, true, cases);

  if (cases.empty()) {
    fail(dir,
         "no BraTS cases found (expected <id>_t1.nii.gz, <id>_t1ce.nii.gz, ... or "
         "<id>-t1n.nii.gz, ... in one folder per case)");
  }
  std::sort(cases.begin(), cases.end(),
            [](const CaseFiles& a, const CaseFiles& b) { return a.id < b.id; });
  for (size_t i = 1; i < cases.size(); ++i) {
    if (cases[i].id == cases[i - 1].id) {
      fail(cases[i].dir, "case id '" + cases[i].id + "' also found in " + cases[i - 1].dir);
    }
  }
  return cases;
}

std::string missing_seg_message(const CaseFiles& files) {
  std::ostringstream msg;
  msg << "no segmentation mask for case " << files.id << "; tried ";
  for (size_t i = 0; i < files.seg_tried.size(); ++i) {
    msg << (i ? ", " : "") << files.seg_tried[i];
  }
  return msg.str();
}

void check_finite(const NiftiImage& image) {
  const auto bad = torch::logical_not(torch::isfinite(image.data)).sum().item<int64_t>();
  if (bad > 0) {
    fail(image.path, std::to_string(bad) + " voxels are NaN or infinite");
  }
}

namespace {

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream s;
  for (int64_t d = 0; d < t.dim(); ++d) s << (d ? "x" : "") << t.size(d);
  return s.str();
}

std::string spacing_text(const std::array<double, 3>& s) {
  std::ostringstream out;
  out << s[0] << "x" << s[1] << "x" << s[2] << " mm";
  return out.str();
}

void check_same_grid(const NiftiImage& image, const NiftiImage& reference) {
  if (image.data.sizes() != reference.data.sizes()) {
    fail(image.path, "shape " + shape_text(image.data) + " differs from " +
                         shape_text(reference.data) + " of " + reference.path);
  }
  for (int d = 0; d < 3; ++d) {
    if (std::abs(image.spacing[d] - reference.spacing[d]) > 1e-3) {
      fail(image.path, "spacing " + spacing_text(image.spacing) + " differs from " +
                           spacing_text(reference.spacing) + " of " + reference.path);
    }
  }
  // Same grid and voxel size, but placed elsewhere in space (a shifted origin, a flipped axis):
  // the channels would be stacked misregistered. Voxel-to-world affines as nifti_clib resolves
  // them; 1e-3 mm and 1e-4 in direction cosines absorb float rounding of rewritten headers.
  if (image.geometry && reference.geometry) {
    const std::string difference = affine_difference(*image.geometry, *reference.geometry);
    if (!difference.empty()) {
      fail(image.path, "voxel-to-world affine differs from " + reference.path + ": " + difference +
                           "; the images are not registered to each other (copy the reference's "
                           "header geometry only if the voxels really are aligned, e.g. "
                           "fslcpgeom)");
    }
  }
}

// "" for an ordinary image; else one line naming the file, how many voxels lie beyond the
// absurd fences, the extreme value and the range they are clipped to before z-scoring.
std::string absurd_intensities(const NiftiImage& image) {
  const IntensityFences absurd = intensity_fences(image.data, kAbsurdWidths);
  const torch::Tensor beyond = (image.data > absurd.high) | (image.data < absurd.low);
  const int64_t count = beyond.sum().item<int64_t>();
  if (count == 0) return "";
  const IntensityFences clip = intensity_fences(image.data);
  const double extreme = image.data.masked_select(beyond).abs().max().item<double>();
  std::ostringstream msg;
  msg << image.path << ": " << count << " voxel" << (count == 1 ? "" : "s")
      << " with absurd intensities (up to " << extreme << " in magnitude; 0.5th-99.5th percentile "
      << clip.percentile_low << " to " << clip.percentile_high << "), clipped to [" << clip.low
      << ", " << clip.high << "] before z-scoring";
  return msg.str();
}

torch::Tensor checked_labels(const NiftiImage& seg, LabelConvention convention) {
  check_finite(seg);
  const torch::Tensor rounded = seg.data.round();
  if (!torch::equal(rounded, seg.data)) fail(seg.path, "mask has non-integer values");
  torch::Tensor labels = rounded.to(torch::kInt64);
  const auto allowed = label_values(convention);
  const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  if (lo < 0 || hi > 255) {
    fail(seg.path, "label value " + std::to_string(lo < 0 ? lo : hi) + " is outside " +
                       convention_spec(convention).title + " labels");
  }
  const torch::Tensor counts = torch::bincount(labels.flatten());
  const auto* c = counts.data_ptr<int64_t>();
  for (int64_t v = 0; v < counts.numel(); ++v) {
    if (c[v] == 0 || std::find(allowed.begin(), allowed.end(), v) != allowed.end()) continue;
    std::ostringstream msg;
    msg << "label value " << v << " (" << c[v] << " voxels) is not a "
        << convention_spec(convention).title << " label {";
    for (size_t i = 0; i < allowed.size(); ++i) msg << (i ? "," : "") << allowed[i];
    msg << "}";
    fail(seg.path, msg.str());
  }
  return labels;
}

}  // namespace

Case load_case(const CaseFiles& files) {
  if (!files.problems.empty()) throw Error(files.problems.front());
  const auto& spec = convention_spec(files.convention);
  std::vector<torch::Tensor> channels;
  Case out;
  out.warnings = files.warnings;
  out.id = files.id;
  out.convention = files.convention;
  for (int m = 0; m < kNumModalities; ++m) {
    if (files.modalities[m].empty()) {
      fail(case_file_name(files.dir, files.id, files.convention, spec.modalities[m]),
           std::string("missing modality ") + spec.modalities[m] + " of case " + files.id +
               " (also tried .nii)");
    }
    NiftiImage image = read_nifti(files.modalities[m]);
    check_finite(image);
    const std::string absurd = absurd_intensities(image);
    if (!absurd.empty()) out.warnings.push_back(absurd);
    if (m == 0) {
      out.reference = image;
    } else {
      check_same_grid(image, out.reference);
    }
    channels.push_back(image.data);
  }
  out.image = torch::stack(channels);
  if (!files.seg.empty()) {
    const NiftiImage seg = read_nifti(files.seg);
    check_same_grid(seg, out.reference);
    out.label = checked_labels(seg, files.convention);
  }
  return out;
}

}  // namespace revunet::data

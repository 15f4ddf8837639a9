#include "revunet/eval/evaluate_folder.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "revunet/core/error.h"
#include "revunet/data/nifti.h"

namespace revunet::eval {
namespace fs = std::filesystem;
namespace {

// "<stem>" of "<stem>.nii.gz" / "<stem>.nii", else nothing.
std::optional<std::string> nifti_stem(const std::string& name) {
  for (const std::string ext : {".nii.gz", ".nii"}) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      return name.substr(0, name.size() - ext.size());
    }
  }
  return std::nullopt;
}

// Prediction files by case id ("<id>_pred" counts as "<id>").
std::map<std::string, std::string> prediction_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "no such directory (--pred)");
  std::map<std::string, std::string> out;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto stem = nifti_stem(file.filename().string());
    if (!stem) continue;
    const std::string suffix = "_pred";
    if (stem->size() > suffix.size() &&
        stem->compare(stem->size() - suffix.size(), suffix.size(), suffix) == 0) {
      stem->resize(stem->size() - suffix.size());
    }
    const auto [it, fresh] = out.emplace(*stem, file.string());
    if (!fresh)
      fail(file.string(), "a second prediction for case " + *stem + " beside " + it->second);
  }
  return out;
}

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream s;
  for (int64_t d = 0; d < t.dim(); ++d) s << (d ? "x" : "") << t.size(d);
  return s.str();
}

}  // namespace

std::vector<std::string> prediction_names(const std::string& id) {
  return {id + ".nii.gz", id + "_pred.nii.gz", id + ".nii", id + "_pred.nii"};
}

std::vector<CasePair> pair_cases(const FolderOptions& o) {
  const auto predictions = prediction_files(o.pred_dir);
  if (predictions.empty()) {
    fail(o.pred_dir, "no predictions (expected <id>.nii.gz or <id>_pred.nii.gz files)");
  }
  std::map<std::string, data::CaseFiles> references;
  for (auto& c : data::discover_cases(o.ref_dir)) references.emplace(c.id, std::move(c));

  for (const auto& [id, path] : predictions) {
    if (!references.count(id)) {
      fail(path, "no reference case '" + id + "' in " + o.ref_dir + " (expected " + id + "/" + id +
                     "_seg.nii.gz or " + id + "-seg.nii.gz)");
    }
  }
  std::vector<CasePair> pairs;
  for (const auto& [id, files] : references) {
    const auto pred = predictions.find(id);
    if (pred == predictions.end()) {
      if (o.only_predicted) continue;
      fail((fs::path(o.pred_dir) / prediction_names(id).front()).string(),
           "missing prediction for reference case " + id + " (also tried " +
               prediction_names(id)[1] +
               " and .nii; --only-predicted scores just the predicted cases)");
    }
    if (files.seg.empty()) fail(files.dir, data::missing_seg_message(files));
    pairs.push_back({id, pred->second, files.seg, o.convention.value_or(files.convention)});
  }
  return pairs;
}

torch::Tensor read_label_map(const std::string& path, data::LabelConvention convention,
                             std::array<double, 3>* spacing) {
  const data::NiftiImage image = data::read_nifti(path);
  data::check_finite(image);
  if (!torch::equal(image.data.round(), image.data)) fail(path, "label map has non-integer values");
  const torch::Tensor labels = image.data.to(torch::kInt64);
  const auto allowed = data::label_values(convention);
  auto reject = [&](int64_t v) {
    std::ostringstream msg;
    msg << "label value " << v << " is not a " << data::convention_spec(convention).title
        << " label {";
    for (size_t k = 0; k < allowed.size(); ++k) msg << (k ? "," : "") << allowed[k];
    msg << "}; is --convention right?";
    fail(path, msg.str());
  };
  const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  if (lo < 0) reject(lo);
  if (hi > 255) reject(hi);
  const torch::Tensor counts = torch::bincount(labels.flatten());
  const auto* c = counts.data_ptr<int64_t>();
  for (int64_t v = 0; v < counts.numel(); ++v) {
    if (c[v] > 0 && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) reject(v);
  }
  if (spacing) *spacing = image.spacing;
  return labels;
}

CaseScores score_pair(const CasePair& pair) {
  std::array<double, 3> ref_spacing{}, pred_spacing{};
  const torch::Tensor ref = read_label_map(pair.ref, pair.convention, &ref_spacing);
  const torch::Tensor pred = read_label_map(pair.pred, pair.convention, &pred_spacing);
  if (pred.sizes() != ref.sizes()) {
    fail(pair.pred,
         "shape " + shape_text(pred) + " differs from " + shape_text(ref) + " of " + pair.ref);
  }
  for (int d = 0; d < 3; ++d) {
    if (std::abs(pred_spacing[d] - ref_spacing[d]) > 1e-3) {
      std::ostringstream msg;
      msg << "voxel size " << pred_spacing[d] << " mm along axis " << d << " differs from "
          << ref_spacing[d] << " mm of " << pair.ref;
      fail(pair.pred, msg.str());
    }
  }
  return score_labels(pair.id, pred, ref, pair.convention, ref_spacing);
}

FolderEvaluation evaluate_folder(const FolderOptions& options,
                                 const std::function<void(const CaseScores&)>& on_case) {
  FolderEvaluation out;
  out.pairs = pair_cases(options);
  for (const CasePair& pair : out.pairs) {
    out.cases.push_back(score_pair(pair));
    if (on_case) on_case(out.cases.back());
  }
  out.summary = summarize(out.cases);
  return out;
}

}  // namespace revunet::eval

// Folder evaluation: pairs prediction label maps with BraTS reference cases and scores them.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "revunet/data/brats.h"
#include "revunet/eval/evaluate.h"

namespace revunet::eval {

struct FolderOptions {
  std::string pred_dir;  // <id>.nii.gz or <id>_pred.nii.gz (or .nii) per case
  std::string ref_dir;   // BraTS cases: <id>/<id>_seg.nii.gz, <id>-seg.nii.gz, ...
  // Label convention of both; unset = the one the reference files are named in.
  std::optional<data::LabelConvention> convention;
  // false: every reference case needs a prediction; true: score only the predicted ones.
  bool only_predicted = false;
};

struct CasePair {
  std::string id;
  std::string pred;  // path of the prediction
  std::string ref;   // path of the reference mask
  data::LabelConvention convention = data::LabelConvention::kBraTS2021;
};

// Pairs predictions with reference cases (data::discover_cases), sorted by id. Throws
// revunet::Error naming the file for: a prediction without a reference case, a reference case
// without a mask, or (unless only_predicted) a reference case without a prediction.
std::vector<CasePair> pair_cases(const FolderOptions& options);

// The prediction files a case may have, in the order they are looked for.
std::vector<std::string> prediction_names(const std::string& id);

// Reads a label map and checks it: integer values of `convention` only, otherwise
// revunet::Error naming the file (a wrong --convention is the usual cause).
torch::Tensor read_label_map(const std::string& path, data::LabelConvention convention,
                             std::array<double, 3>* spacing = nullptr);

// Scores one pair: same shape and spacing (within 1e-3 mm) required; distances use the
// reference's spacing.
CaseScores score_pair(const CasePair& pair);

struct FolderEvaluation {
  std::vector<CasePair> pairs;  // what was scored, in the order of `cases`
  std::vector<CaseScores> cases;
  Summary summary;
};

// pair_cases, then score_pair for each; `on_case` sees each case as it is scored (progress).
FolderEvaluation evaluate_folder(const FolderOptions& options,
                                 const std::function<void(const CaseScores&)>& on_case = {});

}  // namespace revunet::eval

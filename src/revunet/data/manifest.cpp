#include "revunet/data/manifest.h"

#include <algorithm>
#include <iomanip>
#include <numeric>
#include <random>
#include <sstream>

#include "revunet/core/error.h"
#include "revunet/data/brats.h"

namespace revunet::data {

std::vector<int> kfold_split(const std::vector<std::string>& ids, int folds, uint64_t seed) {
  TORCH_CHECK(folds >= 1, "kfold_split needs at least one fold, got ", folds);
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
  std::mt19937_64 rng(seed);
  for (size_t i = order.size(); i > 1; --i) {
    // Rejection sampling keeps the draw uniform and independent of the standard library.
    const uint64_t n = i, limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
      x = rng();
    } while (x >= limit);
    std::swap(order[i - 1], order[x % n]);
  }
  std::vector<int> fold(ids.size());
  for (size_t pos = 0; pos < order.size(); ++pos) fold[order[pos]] = static_cast<int>(pos % folds);
  return fold;
}

nlohmann::json build_manifest(const std::string& dir, const ManifestOptions& options) {
  const std::vector<CaseFiles> cases = discover_cases(dir);
  std::vector<std::string> ids;
  for (const auto& c : cases) ids.push_back(c.id);
  const std::vector<int> folds = kfold_split(ids, options.folds, options.seed);
  const bool any_seg =
      std::any_of(cases.begin(), cases.end(), [](const CaseFiles& c) { return !c.seg.empty(); });

  nlohmann::json manifest = {{"dataset", dir},
                             {"folds", options.folds},
                             {"seed", options.seed},
                             {"cases", nlohmann::json::array()},
                             {"problems", nlohmann::json::array()},
                             {"warnings", nlohmann::json::array()}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const CaseFiles& files = cases[i];
    const auto& spec = convention_spec(files.convention);
    nlohmann::json entry = {{"id", files.id},
                            {"dir", files.dir},
                            {"convention", spec.key},
                            {"fold", folds[i]},
                            {"problems", nlohmann::json::array()}};
    nlohmann::json modalities = nlohmann::json::object();
    for (int m = 0; m < kNumModalities; ++m) modalities[spec.modalities[m]] = files.modalities[m];
    entry["modalities"] = modalities;
    entry["seg"] = files.seg.empty() ? nlohmann::json(nullptr) : nlohmann::json(files.seg);

    auto problem = [&](const std::string& text) {
      entry["problems"].push_back(text);
      manifest["problems"].push_back(text);
    };
    // In a labelled dataset a case without a mask is a problem; in an unlabelled one it is normal.
    if (files.seg.empty() && any_seg) problem(files.dir + ": " + missing_seg_message(files));
    for (const auto& p : files.problems) problem(p);
    for (const auto& w : files.warnings) {
      entry["warnings"].push_back(w);
      manifest["warnings"].push_back(w);
    }
    if (options.load && files.problems.empty()) {
      try {
        const Case c = load_case(files);
        for (size_t w = files.warnings.size(); w < c.warnings.size(); ++w) {
          entry["warnings"].push_back(c.warnings[w]);
          manifest["warnings"].push_back(c.warnings[w]);
        }
        entry["shape"] = {c.image.size(1), c.image.size(2), c.image.size(3)};
        entry["spacing"] = c.reference.spacing;
        entry["orientation"] = c.reference.geometry->orientation();
        if (c.label.defined()) {
          const torch::Tensor counts = torch::bincount(c.label.flatten());
          nlohmann::json label_counts = nlohmann::json::object();
          for (int64_t v : label_values(files.convention)) {
            label_counts[std::to_string(v)] = v < counts.numel() ? counts[v].item<int64_t>() : 0;
          }
          entry["label_counts"] = label_counts;
        }
      } catch (const Error& e) {
        problem(e.what());
      }
    }
    manifest["cases"].push_back(entry);
  }
  return manifest;
}

std::string format_manifest(const nlohmann::json& manifest) {
  std::ostringstream out;
  out << std::left << std::setw(24) << "case" << std::setw(6) << "conv" << std::setw(16) << "shape"
      << std::setw(18) << "spacing mm" << std::setw(6) << "fold"
      << "labels (value:voxels)\n";
  for (const auto& c : manifest["cases"]) {
    std::ostringstream shape, spacing, labels;
    if (c.contains("shape")) {
      shape << c["shape"][0] << "x" << c["shape"][1] << "x" << c["shape"][2];
      spacing << std::setprecision(3) << c["spacing"][0].get<double>() << "x"
              << c["spacing"][1].get<double>() << "x" << c["spacing"][2].get<double>();
    } else {
      shape << "-";
      spacing << "-";
    }
    if (c.contains("label_counts")) {
      for (const auto& [value, count] : c["label_counts"].items()) {
        labels << value << ":" << count.get<int64_t>() << " ";
      }
    } else {
      labels << (c["seg"].is_null() ? "no mask" : "-");
    }
    out << std::setw(24) << c["id"].get<std::string>() << std::setw(6)
        << c["convention"].get<std::string>() << std::setw(16) << shape.str() << std::setw(18)
        << spacing.str() << std::setw(6) << c["fold"].get<int>() << labels.str()
        << (c["problems"].empty() ? "" : "  PROBLEM") << "\n";
  }
  const auto& problems = manifest["problems"];
  out << manifest["cases"].size() << " cases, " << manifest["folds"].get<int>() << " folds (seed "
      << manifest["seed"].get<uint64_t>() << "), " << problems.size() << " problem"
      << (problems.size() == 1 ? "" : "s") << "\n";
  for (const auto& p : problems) out << "problem: " << p.get<std::string>() << "\n";
  if (manifest.contains("warnings")) {
    for (const auto& w : manifest["warnings"]) out << "warning: " << w.get<std::string>() << "\n";
  }
  return out.str();
}

}  // namespace revunet::data

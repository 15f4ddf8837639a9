// A dataset manifest: every case with its files, shape, spacing, label counts and problems, plus a
// reproducible k-fold split. What `revunet dataset check` prints and writes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace revunet::data {

// Fold (0..k-1) of each id, in the order given: a Fisher-Yates shuffle of the ids sorted, driven by
// std::mt19937_64(seed) (its output is fixed by the standard, unlike std::shuffle's), then dealt
// round-robin, so fold sizes differ by at most one.
std::vector<int> kfold_split(const std::vector<std::string>& ids, int folds, uint64_t seed);

struct ManifestOptions {
  int folds = 5;
  uint64_t seed = 0;
  bool load = true;  // load every case (shapes, label counts, NaN checks); false = names only
};

// {"dataset", "folds", "seed", "cases": [{"id", "dir", "convention", "modalities", "seg",
//  "shape", "spacing", "orientation", "label_counts", "fold", "problems"}], "problems": [...]}
// Problems are "<file>: <what>" lines; discovery errors (no cases at all) are thrown.
nlohmann::json build_manifest(const std::string& dir, const ManifestOptions& options);

// A readable table of the manifest followed by every problem.
std::string format_manifest(const nlohmann::json& manifest);

}  // namespace revunet::data

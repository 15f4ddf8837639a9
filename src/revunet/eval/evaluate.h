// Scoring of whole cases (WT, TC, ET from label maps), summaries over cases, and the CSV / JSON
// files a folder evaluation writes.
#pragma once

#include <torch/types.h>

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "revunet/data/brats.h"
#include "revunet/data/regions.h"
#include "revunet/eval/metrics.h"

namespace revunet::eval {

constexpr int kRegionCount = data::kNumRegions;  // WT, TC, ET (data::Region order)

struct CaseScores {
  std::string id;
  std::array<RegionScores, kRegionCount> regions;  // WT, TC, ET
};

// Scores bool/uint8 regions {3, X, Y, Z} of a prediction against those of the reference.
CaseScores score_case(const std::string& id, const torch::Tensor& pred_regions,
                      const torch::Tensor& ref_regions, const std::array<double, 3>& spacing);

// Scores two integer label maps {X, Y, Z} in the same convention (regions by
// data::labels_to_regions).
CaseScores score_labels(const std::string& id, const torch::Tensor& pred_labels,
                        const torch::Tensor& ref_labels, data::LabelConvention convention,
                        const std::array<double, 3>& spacing);

// The four metrics, in the order of the CSV columns.
constexpr int kMetricCount = 4;
constexpr std::array<const char*, kMetricCount> kMetricNames = {"dice", "hd95", "sens", "spec"};
double metric_value(const RegionScores& scores, int metric);

struct Statistics {
  double mean = 0;
  double median = 0;
  double std = 0;  // population standard deviation (numpy.std's default, ddof = 0)
  int64_t count = 0;
};

// Per region and metric, over cases: summary.stats[region][metric].
struct Summary {
  int64_t cases = 0;
  std::array<std::array<Statistics, kMetricCount>, kRegionCount> stats{};
};
Summary summarize(const std::vector<CaseScores>& cases);

// One header line "id,dice_WT,dice_TC,dice_ET,hd95_WT,...,spec_ET" and one row per case.
std::string cases_csv(const std::vector<CaseScores>& cases);

// {"cases": n, "regions": {"WT": {"dice": {"mean", "median", "std", "count"}, ...}, ...}}
nlohmann::json summary_json(const Summary& summary);

// Both written through a temporary file and a rename (core::write_file_atomically).
void write_cases_csv(const std::string& path, const std::vector<CaseScores>& cases);
void write_summary_json(const std::string& path, const Summary& summary,
                        const nlohmann::json& extra = nlohmann::json::object());

}  // namespace revunet::eval

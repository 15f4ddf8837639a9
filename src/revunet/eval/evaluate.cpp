#include "revunet/eval/evaluate.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "revunet/core/run_info.h"

namespace revunet::eval {

CaseScores score_case(const std::string& id, const torch::Tensor& pred_regions,
                      const torch::Tensor& ref_regions, const std::array<double, 3>& spacing) {
  TORCH_CHECK(pred_regions.dim() == 4 && pred_regions.size(0) == kRegionCount, "score_case(", id,
              "): expected prediction regions {3, X, Y, Z}, got ", pred_regions.sizes());
  TORCH_CHECK(pred_regions.sizes() == ref_regions.sizes(), "score_case(", id, "): prediction ",
              pred_regions.sizes(), " and reference ", ref_regions.sizes(), " differ in shape");
  CaseScores out;
  out.id = id;
  for (int r = 0; r < kRegionCount; ++r) {
    out.regions[r] = score_region(pred_regions[r], ref_regions[r], spacing);
  }
  return out;
}

CaseScores score_labels(const std::string& id, const torch::Tensor& pred_labels,
                        const torch::Tensor& ref_labels, data::LabelConvention convention,
                        const std::array<double, 3>& spacing) {
  return score_case(id, data::labels_to_regions(pred_labels, convention) > 0.5,
                    data::labels_to_regions(ref_labels, convention) > 0.5, spacing);
}

namespace {

std::string region_name(int r) {
  return data::region_name(static_cast<data::Region>(r));
}

}  // namespace

double metric_value(const RegionScores& s, int metric) {
  switch (metric) {
    case 0:
      return s.dice;
    case 1:
      return s.hd95;
    case 2:
      return s.sensitivity;
    case 3:
      return s.specificity;
  }
  TORCH_CHECK(false, "metric_value: no metric ", metric);
}

namespace {

Statistics statistics(std::vector<double> v) {
  Statistics s;
  s.count = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / v.size();
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(sq / v.size());
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  s.median = v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
  return s;
}

}  // namespace

Summary summarize(const std::vector<CaseScores>& cases) {
  Summary out;
  out.cases = static_cast<int64_t>(cases.size());
  for (int r = 0; r < kRegionCount; ++r) {
    for (int m = 0; m < kMetricCount; ++m) {
      std::vector<double> values;
      for (const auto& c : cases) values.push_back(metric_value(c.regions[r], m));
      out.stats[r][m] = statistics(std::move(values));
    }
  }
  return out;
}

std::string cases_csv(const std::vector<CaseScores>& cases) {
  std::ostringstream out;
  out << "id";
  for (int m = 0; m < kMetricCount; ++m) {
    for (int r = 0; r < kRegionCount; ++r) out << ',' << kMetricNames[m] << '_' << region_name(r);
  }
  out << '\n' << std::setprecision(10);
  for (const auto& c : cases) {
    out << c.id;
    for (int m = 0; m < kMetricCount; ++m) {
      for (int r = 0; r < kRegionCount; ++r) out << ',' << metric_value(c.regions[r], m);
    }
    out << '\n';
  }
  return out.str();
}

nlohmann::json summary_json(const Summary& summary) {
  nlohmann::json regions = nlohmann::json::object();
  for (int r = 0; r < kRegionCount; ++r) {
    nlohmann::json metrics = nlohmann::json::object();
    for (int m = 0; m < kMetricCount; ++m) {
      const Statistics& s = summary.stats[r][m];
      metrics[kMetricNames[m]] = {
          {"mean", s.mean}, {"median", s.median}, {"std", s.std}, {"count", s.count}};
    }
    regions[region_name(r)] = metrics;
  }
  return {{"cases", summary.cases}, {"regions", regions}};
}

void write_cases_csv(const std::string& path, const std::vector<CaseScores>& cases) {
  core::write_file_atomically(path, cases_csv(cases));
}

void write_summary_json(const std::string& path, const Summary& summary,
                        const nlohmann::json& extra) {
  nlohmann::json value = summary_json(summary);
  value.update(extra);
  core::write_json_atomically(path, value);
}

}  // namespace revunet::eval

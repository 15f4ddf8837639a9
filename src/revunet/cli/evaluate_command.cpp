// revunet evaluate: BraTS scores of a folder of predicted label maps against reference cases.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/data/brats.h"
#include "revunet/eval/evaluate_folder.h"

namespace revunet::cli {
namespace {

void print_summary(const eval::Summary& s) {
  // Metric indices follow eval::kMetricNames: dice, hd95, sens, spec.
  std::cout << std::left << std::setw(8) << "region" << std::setw(12) << "Dice mean"
            << std::setw(14) << "HD95 mean mm" << std::setw(16) << "HD95 median mm" << std::setw(14)
            << "sensitivity"
            << "specificity\n"
            << std::fixed;
  for (int r = 0; r < eval::kRegionCount; ++r) {
    const auto& m = s.stats[r];
    std::cout << std::setw(8) << data::region_name(static_cast<data::Region>(r)) << std::setw(12)
              << std::setprecision(4) << m[0].mean << std::setw(14) << std::setprecision(2)
              << m[1].mean << std::setw(16) << m[1].median << std::setw(14) << std::setprecision(4)
              << m[2].mean << m[3].mean << "\n";
  }
}

// "2021", "2023" or "2021,2023": the conventions the label maps were read in.
std::string conventions_used(const std::vector<eval::CasePair>& pairs) {
  std::set<std::string> keys;
  for (const auto& p : pairs) keys.insert(data::convention_spec(p.convention).key);
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ",") + k;
  return out;
}

struct EvaluateFlags {
  std::string pred, ref, out, convention = "auto";
  bool only_predicted = false;
};

int run_evaluate(const EvaluateFlags& flags) {
  eval::FolderOptions o;
  o.pred_dir = flags.pred;
  o.ref_dir = flags.ref;
  const std::string& out = flags.out;
  if (flags.convention != "auto") o.convention = data::parse_convention(flags.convention);
  o.only_predicted = flags.only_predicted;

  const eval::FolderEvaluation e = eval::evaluate_folder(o, [](const eval::CaseScores& c) {
    std::cout << c.id << std::fixed << std::setprecision(4) << "  Dice WT " << c.regions[0].dice
              << " TC " << c.regions[1].dice << " ET " << c.regions[2].dice << "\n";
  });
  const std::string csv = out + "/cases.csv";
  const std::string json = out + "/summary.json";
  eval::write_cases_csv(csv, e.cases);
  nlohmann::json extra = {{"run", core::run_info(c10::kCPU)},
                          {"pred_dir", o.pred_dir},
                          {"ref_dir", o.ref_dir},
                          {"convention", conventions_used(e.pairs)}};
  eval::write_summary_json(json, e.summary, extra);

  std::cout << "\n" << e.summary.cases << " cases\n";
  print_summary(e.summary);
  std::cout << "wrote " << csv << " and " << json << "\n";
  return 0;
}

}  // namespace

Runner add_evaluate_command(CLI::App& app) {
  auto flags = std::make_shared<EvaluateFlags>();
  EvaluateFlags& f = *flags;
  app.footer(
      "Dice, HD95, sensitivity and specificity (BraTS rules) of predicted label maps (<id>.nii.gz "
      "or <id>_pred.nii.gz) against BraTS reference cases, per case and summarised per region "
      "(WT, TC, ET).");
  app.add_option("--pred", f.pred, "folder of predicted label maps")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--ref", f.ref,
                 "folder of BraTS cases with <id>_seg.nii.gz or <id>-seg.nii.gz masks")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--out", f.out, "where cases.csv and summary.json go")->required();
  app.add_option("--convention", f.convention,
                 "label convention: auto (from the reference file names), 2021, 2023")
      ->capture_default_str()
      ->check(parsed_by([](const std::string& text) {
        if (text != "auto") data::parse_convention(text);
      }));
  app.add_flag("--only-predicted", f.only_predicted,
               "score only reference cases that have a prediction");
  return [flags] { return run_evaluate(*flags); };
}

}  // namespace revunet::cli

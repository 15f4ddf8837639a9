// revunet dataset check DIR: finds every BraTS case, loads and checks it, prints a table with a
// k-fold split and every problem, and exits 1 when any case has a problem.
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/data/manifest.h"

namespace revunet::cli {
namespace {

struct CheckFlags {
  std::string dir, json;
  int64_t folds = 5;
  uint64_t seed = 0;
  bool names_only = false;
};

int run_check(const CheckFlags& flags) {
  data::ManifestOptions options;
  options.folds = static_cast<int>(flags.folds);
  options.seed = flags.seed;
  options.load = !flags.names_only;

  nlohmann::json manifest = data::build_manifest(flags.dir, options);
  std::cout << data::format_manifest(manifest);
  if (!flags.json.empty()) {
    manifest["run"] = core::run_info(torch::kCPU);
    core::write_json_atomically(flags.json, manifest);
    std::cout << "wrote " << flags.json << "\n";
  }
  return manifest["problems"].empty() ? 0 : 1;
}

}  // namespace

Runner add_dataset_command(CLI::App& app) {
  app.require_subcommand(1);
  CLI::App* check = app.add_subcommand(
      "check", "list and check the cases of a BraTS folder, with a k-fold split");
  auto flags = std::make_shared<CheckFlags>();
  CheckFlags& f = *flags;
  check->footer(
      "Discovers the BraTS cases under DIR (2018-2021 or 2023 naming, .nii or .nii.gz), loads and "
      "checks each one, and assigns a reproducible k-fold split. Exits 1 when any case has a "
      "problem.");
  check->add_option("DIR", f.dir, "folder of BraTS cases")->required();
  check->add_option("--folds", f.folds, "number of cross-validation folds")
      ->capture_default_str()
      ->check(at_least(1));
  add_seed_flag(*check, f.seed, "seed of the fold shuffle");
  check->add_option("--json", f.json, "write the manifest here (JSON)");
  check->add_flag("--names-only", f.names_only,
                  "only look at file names (no loading, no shape or label checks)");
  return [flags] { return run_check(*flags); };
}

}  // namespace revunet::cli

// revunet dataset check DIR: finds every BraTS case, loads and checks it, prints a table with a
// k-fold split and every problem, and exits 1 when any case has a problem.
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/data/manifest.h"

namespace revunet::cli {
namespace {

int dataset_check(int argc, const char* const* argv) {
  Args args("revunet dataset check DIR",
            "Discover the BraTS cases under DIR (2018-2021 or 2023 naming, .nii or .nii.gz), load "
            "and check each one, and assign a reproducible k-fold split. Exits 1 when any case "
            "has a problem.");
  args.option("folds", "number of cross-validation folds", "5")
      .option("seed", "seed of the fold shuffle", "0")
      .option("json", "write the manifest here (JSON)")
      .flag("names-only", "only look at file names (no loading, no shape or label checks)");
  if (!args.parse(argc, argv, 2)) return 0;
  if (args.positional().size() != 1) fail("dataset check", "expected one folder; see --help");
  data::ManifestOptions options;
  options.folds = static_cast<int>(args.get_int("folds"));
  if (options.folds < 1) fail("--folds", "must be at least 1");
  options.seed = static_cast<uint64_t>(args.get_int("seed"));
  options.load = !args.is_set("names-only");

  nlohmann::json manifest = data::build_manifest(args.positional()[0], options);
  std::cout << data::format_manifest(manifest);
  if (args.has("json")) {
    manifest["run"] = core::run_info(torch::kCPU);
    core::write_json_atomically(args.get("json"), manifest);
    std::cout << "wrote " << args.get("json") << "\n";
  }
  return manifest["problems"].empty() ? 0 : 1;
}

}  // namespace

int dataset_command(int argc, const char* const* argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::cout << "usage: revunet dataset <what> [options]\n\n"
                 "  check DIR   list and check the cases of a BraTS folder, with a k-fold split\n";
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "check") return dataset_check(argc, argv);
  fail("dataset " + what, "unknown dataset command; expected: check");
}

}  // namespace revunet::cli

// revunet synth: writes synthetic BraTS-like cases (four contrasts and a mask per case).
#include <torch/torch.h>

#include <chrono>
#include <iostream>

#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/cli/pipeline.h"
#include "revunet/core/error.h"
#include "revunet/data/brats.h"
#include "revunet/data/synthetic.h"

namespace revunet::cli {
namespace {

struct SynthFlags {
  std::string out, anatomy = "procedural", convention = "2021";
  int64_t cases = 4, threads = 0;
  std::vector<int64_t> shape;
  double spacing = 1;
  uint64_t seed = 0;
};

int run_synth(const SynthFlags& flags) {
  prepare_output_folder("--out",
                        flags.out);  // a file or a read-only folder: one line, nothing made
  apply_threads(flags.threads);
  data::SynthOptions o;
  o.spacing = flags.spacing;
  for (size_t d = 0; d < flags.shape.size(); ++d) o.shape[d] = flags.shape[d];
  o.seed = flags.seed;
  o.anatomy = data::parse_anatomy(flags.anatomy);
  o.convention = data::parse_convention(flags.convention);

  const auto start = std::chrono::steady_clock::now();
  const auto dirs = data::write_synthetic_dataset(flags.out, flags.cases, o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto shape = o.shape[0] > 0 ? o.shape : data::default_canvas(o.spacing);
  std::cout << "wrote " << dirs.size() << " cases (" << shape[0] << "x" << shape[1] << "x"
            << shape[2] << " at " << o.spacing << " mm, " << flags.anatomy << ") to " << flags.out
            << " in " << seconds << " s\n";
  return 0;
}

}  // namespace

Runner add_synth_command(CLI::App& app) {
  auto flags = std::make_shared<SynthFlags>();
  SynthFlags& f = *flags;
  app.footer(
      "Writes synthetic BraTS-like cases: DIR/<id>/<id>_t1.nii.gz, _t1ce, _t2, _flair, _seg (2023 "
      "naming: -t1n, -t1c, -t2w, -t2f, -seg). Same seed, same files.");
  app.add_option("--out", f.out, "output folder")->required();
  app.add_option("--cases", f.cases, "number of cases")->capture_default_str()->check(at_least(1));
  add_int_list(app, "--shape", f.shape,
               "canvas X,Y,Z in voxels (default: 240x240x155 mm at --spacing)", 3)
      ->check(at_least(8));
  app.add_option("--spacing", f.spacing, "isotropic voxel size in mm")
      ->capture_default_str()
      ->check(positive());
  add_seed_flag(app, f.seed, "random seed");
  app.add_option("--anatomy", f.anatomy,
                 "procedural (any shape, fast) or colin27 (needs mricron-data)")
      ->capture_default_str()
      ->check(parsed_by([](const std::string& text) { data::parse_anatomy(text); }));
  app.add_option("--convention", f.convention, "label and naming convention: 2021 or 2023")
      ->capture_default_str()
      ->check(parsed_by([](const std::string& text) { data::parse_convention(text); }));
  add_threads_flag(app, f.threads);
  return [flags] { return run_synth(*flags); };
}

}  // namespace revunet::cli

// revunet synth: writes synthetic BraTS-like cases (four contrasts and a mask per case).
#include <torch/torch.h>

#include <chrono>
#include <iostream>

#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/core/error.h"
#include "revunet/data/synthetic.h"

namespace revunet::cli {

int synth_command(int argc, const char* const* argv) {
  Args args("revunet synth",
            "Write synthetic BraTS-like cases: DIR/<id>/<id>_t1.nii.gz, _t1ce, _t2, _flair, _seg "
            "(2023 naming: -t1n, -t1c, -t2w, -t2f, -seg). Same seed, same files.");
  args.option("out", "output folder")
      .option("cases", "number of cases", "4")
      .option("shape", "canvas X,Y,Z in voxels (default: 240x240x155 mm at --spacing)")
      .option("spacing", "isotropic voxel size in mm", "1")
      .option("seed", "random seed", "0")
      .option("anatomy", "procedural (any shape, fast) or colin27 (needs mricron-data)",
              "procedural")
      .option("convention", "label and naming convention: 2021 or 2023", "2021")
      .option("threads", "CPU threads (0 = LibTorch's default)", "0");
  if (!args.parse(argc, argv, 1)) return 0;
  if (!args.has("out")) fail("--out", "is required");
  if (args.get_int("threads") > 0)
    torch::set_num_threads(static_cast<int>(args.get_int("threads")));

  data::SynthOptions o;
  o.spacing = args.get_double("spacing");
  if (!(o.spacing > 0)) fail("--spacing", "must be positive");
  if (args.has("shape")) {
    const auto shape = args.get_int_list("shape");
    if (shape.size() != 3) fail("--shape", "expected X,Y,Z");
    for (int d = 0; d < 3; ++d) {
      if (shape[d] < 8) fail("--shape", "each size must be at least 8");
      o.shape[d] = shape[d];
    }
  }
  o.seed = static_cast<uint64_t>(args.get_int("seed"));
  o.anatomy = data::parse_anatomy(args.get("anatomy"));
  o.convention = data::parse_convention(args.get("convention"));
  const int64_t cases = args.get_int("cases");
  if (cases < 1) fail("--cases", "must be at least 1");

  const auto start = std::chrono::steady_clock::now();
  const auto dirs = data::write_synthetic_dataset(args.get("out"), cases, o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto shape = o.shape[0] > 0 ? o.shape : data::default_canvas(o.spacing);
  std::cout << "wrote " << dirs.size() << " cases (" << shape[0] << "x" << shape[1] << "x"
            << shape[2] << " at " << o.spacing << " mm, " << args.get("anatomy") << ") to "
            << args.get("out") << " in " << seconds << " s\n";
  return 0;
}

}  // namespace revunet::cli

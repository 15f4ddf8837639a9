// revunet plot: training curves (loss, validation Dice) from a run's metrics.jsonl as a PNG.
#include <filesystem>
#include <iostream>

#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/core/error.h"
#include "revunet/train/plot.h"

namespace revunet::cli {

int plot_command(int argc, const char* const* argv) {
  Args args("revunet plot LOG [--out FILE.png]",
            "Draws the training loss and validation Dice curves of a run's metrics.jsonl (LOG; a "
            "run folder works too) into a PNG.");
  args.option("out", "the PNG to write (default: LOG with .png instead of .jsonl)");
  if (!args.parse(argc, argv, 1)) return 0;
  if (args.positional().size() != 1) fail("plot", "expected one LOG argument; see --help");
  std::filesystem::path log = args.positional()[0];
  if (std::filesystem::is_directory(log)) log /= "metrics.jsonl";
  const std::string out = args.has("out")
                              ? args.get("out")
                              : std::filesystem::path(log).replace_extension(".png").string();
  train::plot_metrics_file(log.string(), out);
  std::cout << "wrote " << out << "\n";
  return 0;
}

}  // namespace revunet::cli

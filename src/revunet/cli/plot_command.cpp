// revunet plot: training curves (loss, validation Dice) from a run's metrics.jsonl as a PNG.
#include <filesystem>
#include <iostream>

#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/train/plot.h"

namespace revunet::cli {

Runner add_plot_command(CLI::App& app) {
  struct Flags {
    std::string log, out;
  };
  auto flags = std::make_shared<Flags>();
  app.footer(
      "Draws the training loss and validation Dice curves of a run's metrics.jsonl (LOG; a run "
      "folder works too) into a PNG.");
  app.add_option("LOG", flags->log, "metrics.jsonl or its run folder")->required();
  app.add_option("--out", flags->out,
                 "the PNG to write (default: LOG with .png instead of .jsonl)");
  return [flags] {
    std::filesystem::path log = flags->log;
    if (std::filesystem::is_directory(log)) log /= "metrics.jsonl";
    const std::string out = !flags->out.empty()
                                ? flags->out
                                : std::filesystem::path(log).replace_extension(".png").string();
    train::plot_metrics_file(log.string(), out);
    std::cout << "wrote " << out << "\n";
    return 0;
  };
}

}  // namespace revunet::cli

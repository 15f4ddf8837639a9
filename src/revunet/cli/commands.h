// The `revunet` subcommands. Adding one: write cli/<name>_command.cpp with
//   Runner add_<name>_command(CLI::App& app)   (declare flags on `app`, return what runs it)
// and add its two lines here: the declaration and its row in commands(). User errors are thrown
// as revunet::Error and reported by main() in one line.
#pragma once

#include <vector>

#include "revunet/cli/app.h"

namespace revunet::cli {

Runner add_bench_command(CLI::App& app);
Runner add_synth_command(CLI::App& app);
Runner add_dataset_command(CLI::App& app);
Runner add_evaluate_command(CLI::App& app);
Runner add_plot_command(CLI::App& app);
Runner add_memory_command(CLI::App& app);
Runner add_plan_command(CLI::App& app);
Runner add_train_command(CLI::App& app);
Runner add_predict_command(CLI::App& app);
Runner add_demo_command(CLI::App& app);
Runner add_export_command(CLI::App& app);

// In the order `revunet --help` lists them.
inline const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"bench", "measure memory and speed (stack: one reversible stack; unet: training steps)",
       add_bench_command},
      {"synth", "write synthetic BraTS-like cases", add_synth_command},
      {"dataset", "check a BraTS folder, k-fold split", add_dataset_command},
      {"evaluate", "Dice, HD95, ... of label maps vs BraTS cases", add_evaluate_command},
      {"plot", "draw training curves from a metrics.jsonl into a PNG", add_plot_command},
      {"memory", "largest volume, depth, width that trains in a memory budget, per mode",
       add_memory_command},
      {"plan", "per-stage modes (plain/checkpoint/reversible) for a memory budget, measured",
       add_plan_command},
      {"train", "train a U-Net from a JSON config on BraTS cases", add_train_command},
      {"predict", "label maps for BraTS cases from a trained model", add_predict_command},
      {"demo", "synthetic data, training, prediction, evaluation, overlays", add_demo_command},
      {"export", "weights as a PyTorch state dict + config JSON", add_export_command},
  };
  return table;
}

}  // namespace revunet::cli

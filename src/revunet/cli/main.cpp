// revunet: train, predict, evaluate and measure reversible 3D U-Nets.
#include <c10/util/Exception.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "revunet/cli/commands.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, const char* const* argv);
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"bench", "measure memory and speed (bench stack: one reversible stack in three modes)",
       revunet::cli::bench_command},
      {"synth", "write synthetic BraTS-like cases", revunet::cli::synth_command},
      {"dataset", "check a BraTS folder, k-fold split", revunet::cli::dataset_command},
      {"evaluate", "Dice, HD95, ... of label maps vs BraTS cases", revunet::cli::evaluate_command},
      {"plot", "draw training curves from a metrics.jsonl into a PNG", revunet::cli::plot_command},
      {"memory", "largest volume, depth, width that trains in a memory budget, per mode",
       revunet::cli::memory_command},
      {"train", "train a U-Net from a JSON config on BraTS cases", revunet::cli::train_command},
      {"predict", "label maps for BraTS cases from a trained model", revunet::cli::predict_command},
      {"demo", "synthetic data, training, prediction, evaluation, overlays",
       revunet::cli::demo_command},
      {"export", "weights as a PyTorch state dict + config JSON", revunet::cli::export_command},
  };
  return table;
}

void print_usage() {
  std::cout << "usage: revunet <command> [options]   (revunet <command> --help for details)\n\n"
            << "commands:\n";
  for (const auto& c : commands()) {
    std::cout << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  revunet::core::set_command_line(argc, argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const revunet::Error& e) {
      std::cerr << "revunet " << name << ": " << e.what() << "\n";
      return 2;
    } catch (const c10::Error& e) {
      std::cerr << "revunet " << name << ": " << e.what_without_backtrace() << "\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "revunet " << name << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "revunet: unknown command '" << name << "'; run revunet --help\n";
  return 2;
}

// The `revunet` subcommands. Each takes argv from the subcommand's name on and returns the exit
// code; user errors are thrown as revunet::Error and reported by main() in one line.
#pragma once

namespace revunet::cli {

int bench_command(int argc, const char* const* argv);
int synth_command(int argc, const char* const* argv);
int dataset_command(int argc, const char* const* argv);
int evaluate_command(int argc, const char* const* argv);
int plot_command(int argc, const char* const* argv);
int memory_command(int argc, const char* const* argv);
int train_command(int argc, const char* const* argv);
int predict_command(int argc, const char* const* argv);
int demo_command(int argc, const char* const* argv);
int export_command(int argc, const char* const* argv);

}  // namespace revunet::cli

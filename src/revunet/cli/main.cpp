// revunet: train, predict, evaluate and measure reversible 3D U-Nets.
#include <c10/util/Exception.h>

#include <iostream>
#include <string>
#include <vector>

#include "revunet/cli/app.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"

int main(int argc, char** argv) {
  revunet::core::set_command_line(argc, argv);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    revunet::cli::run_command_line({"--help"});
    return 2;
  }
  const std::string& name = args.front();
  if (name.rfind("-", 0) != 0 && !revunet::cli::is_command(name)) {
    std::cerr << "revunet: unknown command '" << name << "'; run revunet --help\n";
    return 2;
  }
  // Errors name the command they came from: "revunet train: --lr: must be positive, got 0".
  const std::string prefix = revunet::cli::is_command(name) ? "revunet " + name : "revunet";
  try {
    return revunet::cli::run_command_line(args);
  } catch (const revunet::Error& e) {
    std::cerr << prefix << ": " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << prefix << ": " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << prefix << ": " << e.what() << "\n";
    return 1;
  }
}

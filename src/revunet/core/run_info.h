// What every benchmark and --json result records next to its rows: the command line, the device,
// the LibTorch version and the git revision, so any number can be traced to what made it.
#pragma once

#include <c10/core/Device.h>

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "revunet/core/atomic_file.h"  // results are written with these

namespace revunet::core {

// The command line of this process, set once by main().
void set_command_line(int argc, const char* const* argv);
std::string command_line();

// {"command": ..., "device": ..., "libtorch": ..., "git_revision": ..., "created": ...}
nlohmann::json run_info(c10::Device device);

}  // namespace revunet::core

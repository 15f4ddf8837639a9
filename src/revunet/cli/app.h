// The `revunet` command line on CLI11: one CLI::App with a subcommand per *_command.cpp file
// (the list is in cli/commands.h). Parsing checks every flag's type and range before a command
// runs; every parse problem becomes one revunet::Error line ("<flag>: <problem>") that main()
// prints as "revunet <command>: <flag>: <problem>" with exit code 2.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace revunet::cli {

// What runs a subcommand once its command line has parsed; returns the exit code.
using Runner = std::function<int()>;

// A subcommand file's entry point: declares the flags on `app` (already named and described by
// its Command entry), bound to variables the returned Runner owns.
using AddCommand = Runner (*)(CLI::App& app);

struct Command {
  const char* name;
  const char* summary;  // one line, shown by `revunet --help`
  AddCommand add;
};

// Parses `args` (the words after the program name) and runs the chosen subcommand. --help on any
// level prints that level's help and returns 0. Throws revunet::Error for a bad command line.
int run_command_line(const std::vector<std::string>& args);

// True when `name` is one of the subcommands.
bool is_command(const std::string& name);

}  // namespace revunet::cli

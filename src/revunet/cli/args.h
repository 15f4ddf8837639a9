// Command-line flags for revunet's subcommands: `--name value` and `--switch`, each declared with
// its help text, so an unknown flag or a missing value is one clear line and exit code 2.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "revunet/rev/reversible_sequence.h"

namespace revunet::cli {

class Args {
 public:
  // `usage` is the first help line ("revunet bench stack [options]").
  Args(std::string usage, std::string summary);

  // Declares a flag taking a value (empty default = no default) or a switch.
  Args& option(const std::string& name, const std::string& help, const std::string& fallback = "");
  Args& flag(const std::string& name, const std::string& help);

  // Parses argv[first..]; throws revunet::Error for unknown flags or missing values.
  // Returns false when --help was given (help already printed).
  bool parse(int argc, const char* const* argv, int first);

  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;  // throws when absent and no default
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<int64_t> get_int_list(const std::string& name) const;  // "1,2,4"
  bool is_set(const std::string& name) const;                        // switches
  const std::vector<std::string>& positional() const { return positional_; }
  std::string help() const;

 private:
  struct Spec {
    std::string help;
    std::string fallback;
    bool is_switch = false;
  };
  std::string usage_;
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// "1GiB", "512MiB", "1.5G", "123456" -> bytes; throws revunet::Error naming `what` otherwise.
int64_t parse_bytes(const std::string& text, const std::string& what);

// "fp32" -> false, "bf16" -> true; anything else is a one-line error naming --dtype.
bool parse_bf16_dtype(const std::string& text);

// "reversible,plain" -> stage modes; throws revunet::Error naming `what` for a bad or empty list.
std::vector<rev::StackMode> parse_modes(const std::string& text, const std::string& what);

}  // namespace revunet::cli

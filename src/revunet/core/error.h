// The project's one error type for file and user-input problems: its message names the file (or
// the option) and what is wrong, on one line. Tensor preconditions use TORCH_CHECK instead.
#pragma once

#include <stdexcept>
#include <string>

namespace revunet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws Error("<where>: <problem>").
[[noreturn]] void fail(const std::string& where, const std::string& problem);

}  // namespace revunet

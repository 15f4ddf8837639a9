// Flags shared by revunet's subcommands and the validators behind them, on CLI11. A validator's
// message is the problem only ("must be positive, got 0"); CLI11 puts the flag in front and
// cli/app.cpp turns every parse error into revunet's one line ("revunet train: --lr: must be
// positive, got 0").
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "revunet/rev/reversible_sequence.h"

namespace revunet::cli {

// Numbers: `at_least(1)`, `positive()`, `in_range(0, 1)` ([0, 1]) or `in_range(0, 1, "[)")`
// ([0, 1)). Non-finite numbers are refused; text that is no number is left to the type conversion
// (which says "expected a whole number").
CLI::Validator at_least(double min);
CLI::Validator positive();
CLI::Validator in_range(double low, double high, const std::string& bounds = "[]");

// A value accepted when `parse` (one of revunet's own parsers, throwing revunet::Error) accepts
// it, e.g. rev::parse_stack_mode: the names live in one place and the message is the parser's.
CLI::Validator parsed_by(std::function<void(const std::string&)> parse);

// A transform: "16GiB" -> "17179869184" (core::parse_bytes), so the option can be an int64_t.
// `allow_zero` lets "0" through (a flag whose 0 means "automatic").
CLI::Validator byte_size(bool allow_zero = false);

// --device cpu|cuda|cuda:N, checked against this build and machine (core::parse_device).
CLI::Option* add_device_flag(CLI::App& app, std::string& device);
// --threads N: CPU threads, 0 = LibTorch's default; `apply_threads` sets them.
CLI::Option* add_threads_flag(CLI::App& app, int64_t& threads);
void apply_threads(int64_t threads);
// --dtype fp32|bf16 (bf16: bfloat16 autocast, CUDA only).
CLI::Option* add_dtype_flag(CLI::App& app, std::string& dtype);
// --seed N (a non-negative whole number).
CLI::Option* add_seed_flag(CLI::App& app, uint64_t& seed, const std::string& help);
// A comma-separated list of whole numbers ("16,32"); `count` > 0 fixes its length ("X,Y,Z").
CLI::Option* add_int_list(CLI::App& app, const std::string& name, std::vector<int64_t>& values,
                          const std::string& help, int count = 0);
// --modes reversible,plain,checkpoint: stage modes, checked by rev::parse_stack_mode.
CLI::Option* add_modes_flag(CLI::App& app, std::vector<std::string>& modes,
                            const std::string& fallback);
std::vector<rev::StackMode> to_modes(const std::vector<std::string>& names);

}  // namespace revunet::cli

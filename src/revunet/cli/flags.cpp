#include "revunet/cli/flags.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "revunet/core/bytes.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"

namespace revunet::cli {
namespace {

// Shortest text of a bound: 1 not 1.000000, 0.5 not 0.500000.
std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A numeric check: `ok(value)` or the message "<requirement>, got <input>".
CLI::Validator number_check(const std::string& requirement, const std::string& summary,
                            std::function<bool(double)> ok) {
  return CLI::Validator(
      [requirement, ok](std::string& input) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(input.c_str(), &end);
        if (end == input.c_str() || *end != '\0') return {};  // the type conversion reports it
        if (!std::isfinite(value)) return "must be a finite number, got " + input;
        return ok(value) ? std::string() : requirement + ", got " + input;
      },
      summary);
}

}  // namespace

CLI::Validator at_least(double min) {
  return number_check("must be at least " + number_text(min), ">= " + number_text(min),
                      [min](double v) { return v >= min; });
}

CLI::Validator positive() {
  return number_check("must be positive", "> 0", [](double v) { return v > 0; });
}

CLI::Validator in_range(double low, double high, const std::string& bounds) {
  const bool low_in = bounds.front() == '[', high_in = bounds.back() == ']';
  const std::string range = bounds.substr(0, 1) + number_text(low) + ", " + number_text(high) +
                            bounds.substr(bounds.size() - 1);
  return number_check("must be in " + range, "in " + range, [=](double v) {
    return (low_in ? v >= low : v > low) && (high_in ? v <= high : v < high);
  });
}

CLI::Validator parsed_by(std::function<void(const std::string&)> parse) {
  return CLI::Validator(
      [parse](std::string& input) -> std::string {
        try {
          parse(input);
          return {};
        } catch (const Error& e) {
          // revunet's parsers say "<where>: <problem>"; CLI11 names the flag, so keep the problem.
          std::string message = e.what();
          const size_t colon = message.find(": ");
          const std::string where = message.substr(0, colon);
          if (colon != std::string::npos &&
              (where.rfind("-", 0) == 0 || where.find(input) != std::string::npos)) {
            message = message.substr(colon + 2);
          }
          if (message.find(input) == std::string::npos) message += " (got '" + input + "')";
          return message;
        }
      },
      "");
}

CLI::Validator byte_size(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& input) -> std::string {
        if (allow_zero && input == "0") return {};
        try {
          input = std::to_string(core::parse_bytes(input, "size"));
          return {};
        } catch (const Error& e) {
          const std::string message = e.what();
          return message.substr(message.find(": ") + 2) + " (got '" + input + "')";
        }
      },
      "SIZE");
}

CLI::Option* add_device_flag(CLI::App& app, std::string& device) {
  return app.add_option("--device", device, "cpu, cuda or cuda:N")
      ->capture_default_str()
      ->check(parsed_by([](const std::string& text) { core::parse_device(text); }));
}

CLI::Option* add_threads_flag(CLI::App& app, int64_t& threads) {
  return app.add_option("--threads", threads, "CPU threads (0 = LibTorch's default)")
      ->capture_default_str()
      ->check(at_least(0));
}

void apply_threads(int64_t threads) {
  if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
}

CLI::Option* add_dtype_flag(CLI::App& app, std::string& dtype) {
  return app.add_option("--dtype", dtype, "fp32, or bf16 (autocast, CUDA only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

CLI::Option* add_seed_flag(CLI::App& app, uint64_t& seed, const std::string& help) {
  return app.add_option("--seed", seed, help)->capture_default_str()->check(at_least(0));
}

CLI::Option* add_int_list(CLI::App& app, const std::string& name, std::vector<int64_t>& values,
                          const std::string& help, int count) {
  CLI::Option* option = app.add_option(name, values, help)
                            ->delimiter(',')
                            ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  if (count > 0) option->expected(count);
  if (!values.empty()) option->capture_default_str();
  return option;
}

CLI::Option* add_modes_flag(CLI::App& app, std::vector<std::string>& modes,
                            const std::string& fallback) {
  std::stringstream list(fallback);
  for (std::string item; std::getline(list, item, ',');) modes.push_back(item);
  return app.add_option("--modes", modes, "comma-separated stage modes")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw)
      ->capture_default_str()
      ->check(parsed_by([](const std::string& text) { rev::parse_stack_mode(text); }));
}

std::vector<rev::StackMode> to_modes(const std::vector<std::string>& names) {
  std::vector<rev::StackMode> modes;
  for (const auto& name : names) modes.push_back(rev::parse_stack_mode(name));
  if (modes.empty()) fail("--modes", "expected e.g. reversible,plain,checkpoint");
  return modes;
}

}  // namespace revunet::cli

#include "revunet/cli/args.h"

#include <cmath>
#include <iostream>
#include <sstream>

#include "revunet/core/error.h"

namespace revunet::cli {

Args::Args(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {
  flag("help", "show this help and exit");
}

Args& Args::option(const std::string& name, const std::string& help, const std::string& fallback) {
  order_.push_back(name);
  specs_[name] = {help, fallback, false};
  return *this;
}

Args& Args::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = {help, "", true};
  return *this;
}

bool Args::parse(int argc, const char* const* argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string token = argv[i];
    if (token.rfind("--", 0) != 0) {
      positional_.push_back(token);
      continue;
    }
    std::string name = token.substr(2);
    std::string value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto spec = specs_.find(name);
    if (spec == specs_.end()) fail(token, "unknown option; see " + usage_ + " --help");
    if (spec->second.is_switch) {
      if (inline_value) fail(token, "this switch takes no value");
      values_[name] = "1";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) fail(token, "needs a value");
      value = argv[++i];
    }
    values_[name] = value;
  }
  if (is_set("help")) {
    std::cout << help();
    return false;
  }
  return true;
}

bool Args::has(const std::string& name) const {
  if (values_.count(name)) return true;
  auto spec = specs_.find(name);
  return spec != specs_.end() && !spec->second.fallback.empty();
}

std::string Args::get(const std::string& name) const {
  if (auto v = values_.find(name); v != values_.end()) return v->second;
  auto spec = specs_.find(name);
  if (spec == specs_.end()) fail("--" + name, "internal error: option was never declared");
  if (spec->second.fallback.empty()) fail("--" + name, "is required; see " + usage_ + " --help");
  return spec->second.fallback;
}

int64_t Args::get_int(const std::string& name) const {
  const std::string text = get(name);
  try {
    size_t used = 0;
    int64_t v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  fail("--" + name + " " + text, "expected a whole number");
}

double Args::get_double(const std::string& name) const {
  const std::string text = get(name);
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  fail("--" + name + " " + text, "expected a number");
}

std::vector<int64_t> Args::get_int_list(const std::string& name) const {
  const std::string text = get(name);
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stoll(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail("--" + name + " " + text, "expected comma-separated whole numbers, e.g. 1,2,4");
    }
  }
  if (out.empty()) fail("--" + name, "expected at least one number");
  return out;
}

bool Args::is_set(const std::string& name) const {
  return values_.count(name) > 0;
}

std::string Args::help() const {
  std::ostringstream out;
  out << "usage: " << usage_ << "\n" << summary_ << "\n\noptions:\n";
  for (const auto& name : order_) {
    const auto& spec = specs_.at(name);
    std::string left = "  --" + name + (spec.is_switch ? "" : " VALUE");
    out << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << spec.help;
    if (!spec.fallback.empty()) out << " (default " << spec.fallback << ")";
    out << "\n";
  }
  return out.str();
}

int64_t parse_bytes(const std::string& text, const std::string& what) {
  size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    fail(what + " " + text, "expected a size such as 512MiB, 16GiB or a byte count");
  }
  std::string unit = text.substr(used);
  double scale = 1;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB" || unit == "K" || unit == "k") {
    scale = 1024.0;
  } else if (unit == "MiB" || unit == "M") {
    scale = 1024.0 * 1024;
  } else if (unit == "GiB" || unit == "G") {
    scale = 1024.0 * 1024 * 1024;
  } else if (unit == "KB") {
    scale = 1e3;
  } else if (unit == "MB") {
    scale = 1e6;
  } else if (unit == "GB") {
    scale = 1e9;
  } else {
    fail(what + " " + text, "unknown unit '" + unit + "'; use B, KiB, MiB or GiB");
  }
  if (!(number > 0)) fail(what + " " + text, "must be positive");
  return static_cast<int64_t>(number * scale);
}

bool parse_bf16_dtype(const std::string& text) {
  if (text != "fp32" && text != "bf16") fail("--dtype " + text, "expected fp32 or bf16");
  return text == "bf16";
}

std::vector<rev::StackMode> parse_modes(const std::string& text, const std::string& what) {
  std::vector<rev::StackMode> modes;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    if (!item.empty()) modes.push_back(rev::parse_stack_mode(item));
  }
  if (modes.empty()) fail(what, "expected e.g. reversible,plain,checkpoint");
  return modes;
}

}  // namespace revunet::cli

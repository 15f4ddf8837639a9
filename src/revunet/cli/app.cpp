#include "revunet/cli/app.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <regex>

#include "revunet/cli/commands.h"
#include "revunet/core/error.h"

namespace revunet::cli {
namespace {

// "revunet bench stack": the words that lead to `app`.
std::string path_of(const CLI::App* app) {
  std::string path;
  for (; app != nullptr; app = app->get_parent()) {
    path = app->get_name() + (path.empty() ? "" : " " + path);
  }
  return path;
}

// The deepest subcommand the parse selected (the root when none).
const CLI::App* selected(const CLI::App& root) {
  const CLI::App* app = &root;
  for (auto subs = app->get_subcommands(); !subs.empty(); subs = app->get_subcommands()) {
    app = subs.front();
  }
  return app;
}

// The option called `name` ("--epochs") on `app` or a parent, or nullptr.
const CLI::Option* find_option(const CLI::App* app, const std::string& name) {
  for (; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* option : app->get_options()) {
      if (option->check_name(name)) return option;
    }
  }
  return nullptr;
}

bool is_switch(const CLI::Option* option) {
  return option != nullptr && option->get_items_expected_max() == 0;
}

std::string subcommand_names(const CLI::App* app) {
  std::string names;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return names;
}

// "12 is not expected": a stray word, an unknown flag, or a value given to a switch.
std::string explain_extra(const CLI::App* app, const std::vector<std::string>& extras,
                          const std::vector<std::string>& args) {
  const std::string word = extras.front();
  const std::string help = "; see " + path_of(app) + " --help";
  if (word.rfind("-", 0) == 0) return word.substr(0, word.find('=')) + ": unknown option" + help;
  for (size_t i = 1; i < args.size(); ++i) {
    const CLI::Option* before = find_option(app, args[i - 1]);
    if (args[i] == word && is_switch(before)) {
      return args[i - 1] + ": is a switch and takes no value, got '" + word + "'";
    }
  }
  if (!app->get_subcommands([](const CLI::App*) { return true; }).empty() &&
      app->get_subcommands().empty()) {
    return word + ": unknown command; expected one of " + subcommand_names(app);
  }
  return word + ": unexpected argument" + help;
}

// The ParseError as one "<flag>: <problem>" line.
std::string explain(const CLI::ParseError& e, const CLI::App& root,
                    const std::vector<std::string>& args) {
  const CLI::App* app = selected(root);
  const std::string message = e.what();
  const std::string help = "; see " + path_of(app) + " --help";
  std::smatch m;
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    const auto extras = const_cast<CLI::App*>(app)->remaining();
    if (!extras.empty()) return explain_extra(app, extras, args);
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    if (message.rfind("A subcommand", 0) == 0) {
      const auto extras = const_cast<CLI::App*>(app)->remaining();
      if (!extras.empty()) return explain_extra(app, extras, args);
      return "expected a command: " + subcommand_names(app) + help;
    }
    if (std::regex_match(message, m, std::regex("(\\S+) is required"))) {
      const std::string name = m[1];
      if (name.rfind("-", 0) == 0) return name + ": is required" + help;
      return "expected a " + name + " argument" + help;
    }
  }
  if (std::regex_match(message, m, std::regex("Could not convert: (\\S+) = (.*)"))) {
    const CLI::Option* option = find_option(app, m[1]);
    const std::string type = option ? option->get_type_name() : "";
    const std::string expected = type.rfind("FLOAT", 0) == 0 ? "a number" : "a whole number";
    return std::string(m[1]) + " " + std::string(m[2]) + ": expected " + expected;
  }
  if (std::regex_match(message, m, std::regex("(\\S+): \\d+ required .+ missing"))) {
    return std::string(m[1]) + ": needs a value";
  }
  if (std::regex_match(message, m,
                       std::regex("(\\S+): At (least|Most) (\\d+) required but received (\\d+)"))) {
    return std::string(m[1]) + ": expected " + std::string(m[3]) + " comma-separated values, got " +
           std::string(m[4]);
  }
  if (std::regex_match(message, m, std::regex("(\\S+) excludes (\\S+)"))) {
    return std::string(m[1]) + ": cannot be combined with " + std::string(m[2]);
  }
  if (std::regex_match(message, m, std::regex("(\\S+) requires (\\S+)"))) {
    return std::string(m[1]) + ": only applies together with " + std::string(m[2]);
  }
  return message;  // already "<flag>: <problem>" (validators) or CLI11's own sentence
}

// CLI11 reads `--switch=value` as a boolean; revunet's switches take no value at all.
void refuse_switch_values(const CLI::App& root, const std::vector<std::string>& args) {
  const CLI::App* app = selected(root);
  for (const auto& arg : args) {
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) continue;
    if (is_switch(find_option(app, arg.substr(0, eq)))) {
      fail(arg.substr(0, eq), "is a switch and takes no value, got '" + arg.substr(eq + 1) + "'");
    }
  }
}

}  // namespace

bool is_command(const std::string& name) {
  for (const auto& c : commands()) {
    if (name == c.name) return true;
  }
  return false;
}

int run_command_line(const std::vector<std::string>& args) {
  CLI::App app("revunet: train, predict, evaluate and measure reversible 3D U-Nets", "revunet");
  app.require_subcommand(1);
  // A flag given twice keeps its last value (lists refuse a repeat: add_int_list).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.footer("revunet <command> --help for a command's flags");
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const auto& c : commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    runners.emplace_back(sub, c.add(*sub));
  }

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    throw Error(explain(e, app, args));
  }
  refuse_switch_values(app, args);
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  fail("revunet", "expected a command; run revunet --help");
}

}  // namespace revunet::cli

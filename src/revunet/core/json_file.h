// Strict JSON input: every JSON file or text a user can hand revunet (model configs, the config
// embedded in a model file) is read here. nlohmann::json keeps the last value of a key that an
// object repeats without a word; here a repeated key is an error naming the key, where it is and
// the source, as is malformed JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace revunet::core {

// Parses `text`; `source` (a file name, "model.pt (embedded config)") starts every error message.
nlohmann::json parse_json_strict(const std::string& text, const std::string& source);

// Reads and parses the file at `path` (an unreadable file is an error naming it).
nlohmann::json read_json_file(const std::string& path);

}  // namespace revunet::core

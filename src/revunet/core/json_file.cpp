#include "revunet/core/json_file.h"

#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "revunet/core/error.h"

namespace revunet::core {

nlohmann::json parse_json_strict(const std::string& text, const std::string& source) {
  using nlohmann::json;
  // The parser callback sees every key as it is read: one set of keys per open object, and the
  // path to it for the message ("stage_modes.enc0").
  std::vector<std::set<std::string>> keys;
  std::vector<std::string> path;
  std::string last_key;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        path.push_back(last_key);
        last_key.clear();
        break;
      case json::parse_event_t::key: {
        last_key = parsed.get<std::string>();
        if (!keys.back().insert(last_key).second) {
          std::string where;
          for (size_t i = 1; i < path.size(); ++i) {
            where += path[i].empty() ? "[]" : (where.empty() ? "" : ".") + path[i];
          }
          fail(source, "key '" + last_key + "' appears twice" +
                           (where.empty() ? std::string() : " in '" + where + "'") +
                           "; JSON keeps only the last value silently, so remove one of them");
        }
        break;
      }
      case json::parse_event_t::object_end:
        keys.pop_back();
        path.pop_back();
        last_key.clear();
        break;
      case json::parse_event_t::array_start:
        path.push_back(last_key);
        last_key.clear();
        break;
      case json::parse_event_t::array_end:
        path.pop_back();
        last_key.clear();
        break;
      case json::parse_event_t::value:
        last_key.clear();
        break;
    }
    return true;
  };
  try {
    return json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    fail(source, std::string("not valid JSON: ") + e.what());
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file (does it exist and is it readable?)");
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) fail(path, "cannot read the file");
  return parse_json_strict(text.str(), path);
}

}  // namespace revunet::core

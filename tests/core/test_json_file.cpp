#include "revunet/core/json_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "revunet/core/error.h"

namespace revunet::core {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_json_strict(text, "model.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonFile, ReadsOrdinaryJson) {
  const auto value =
      parse_json_strict(R"({"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]})", "x");
  EXPECT_EQ(value["a"], 1);
  EXPECT_EQ(value["b"]["a"], 2);
  EXPECT_EQ(value["c"][1]["a"], 4);
}

TEST(JsonFile, RefusesAKeyRepeatedAtTheTopNamingKeyAndSource) {
  const std::string message = error_of(R"({"base_width": 8, "levels": 3, "base_width": 16})");
  EXPECT_EQ(message.rfind("model.json: key 'base_width' appears twice", 0), 0u) << message;
}

TEST(JsonFile, RefusesAKeyRepeatedInANestedObjectNamingWhere) {
  const std::string message =
      error_of(R"({"stage_modes": {"enc0": "plain", "enc0": "reversible"}})");
  EXPECT_NE(message.find("key 'enc0' appears twice in 'stage_modes'"), std::string::npos)
      << message;
}

TEST(JsonFile, TheSameKeyInSiblingObjectsIsFine) {
  EXPECT_EQ(error_of(R"([{"a": 1}, {"a": 2}])"), "");
  EXPECT_EQ(error_of(R"({"x": {"a": 1}, "y": {"a": 2}, "a": 3})"), "");
}

TEST(JsonFile, MalformedJsonNamesTheSource) {
  EXPECT_EQ(error_of(R"({"a": 1,})").rfind("model.json: not valid JSON", 0), 0u);
}

TEST(JsonFile, ReadsAFileAndNamesAMissingOne) {
  const auto path = std::filesystem::temp_directory_path() / "revunet_json_file_test.json";
  std::ofstream(path) << R"({"a": [1, 2]})";
  EXPECT_EQ(read_json_file(path.string())["a"][1], 2);
  std::filesystem::remove(path);
  try {
    read_json_file(path.string());
    FAIL() << "a missing file was read";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path.string() + ": cannot open", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace revunet::core

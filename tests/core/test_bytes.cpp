#include "revunet/core/bytes.h"

#include <gtest/gtest.h>

#include "revunet/core/error.h"

namespace revunet::core {
namespace {

constexpr int64_t kOneMiB = int64_t{1} << 20;

TEST(Bytes, ParsesSizesWithBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_bytes("1GiB", "--budget"), int64_t{1} << 30);
  EXPECT_EQ(parse_bytes("512MiB", "--budget"), 512 * kOneMiB);
  EXPECT_EQ(parse_bytes("1.5G", "--budget"), 3 * (int64_t{1} << 29));
  EXPECT_EQ(parse_bytes("2TiB", "--budget"), int64_t{2} << 40);
  EXPECT_EQ(parse_bytes("3KB", "--budget"), 3000);
  EXPECT_EQ(parse_bytes("123456", "--budget"), 123456);
}

TEST(Bytes, RefusesUnknownUnitsAndNonPositiveSizesNamingTheFlag) {
  for (const char* bad : {"12 parsecs", "-1GiB", "0", "GiB", "nanGiB", "1e30GiB"}) {
    try {
      parse_bytes(bad, "--budget");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("--budget " + std::string(bad), 0), 0u) << e.what();
    }
  }
}

TEST(Bytes, FormatsWithBinaryUnits) {
  EXPECT_EQ(format_bytes(int64_t{812}), "812 B");
  EXPECT_EQ(format_bytes(int64_t{3} << 29), "1.50 GiB");
  EXPECT_EQ(format_bytes(int64_t{-1}), "?");
  EXPECT_EQ(format_bytes(4.0 * (int64_t{1} << 40) * 1e7), "4e+07 TiB");
}

}  // namespace
}  // namespace revunet::core

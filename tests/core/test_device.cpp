#include "revunet/core/device.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "revunet/core/compat.h"
#include "revunet/core/error.h"

namespace revunet::core {
namespace {

TEST(ParseDevice, AcceptsCpu) {
  EXPECT_EQ(parse_device("cpu"), c10::Device(c10::kCPU));
}

TEST(ParseDevice, RejectsUnknownNamesWithTheOptionInTheMessage) {
  try {
    parse_device("gpu");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device gpu"), std::string::npos) << e.what();
  }
}

TEST(ParseDevice, RejectsCudaWhenNoneIsAvailable) {
  if (compat::cuda_available()) GTEST_SKIP() << "this machine has CUDA";
  EXPECT_THROW(parse_device("cuda"), Error);
}

TEST(SeedEverything, MakesRandomNumbersRepeatable) {
  seed_everything(7);
  auto a = torch::randn({16});
  seed_everything(7);
  auto b = torch::randn({16});
  EXPECT_TRUE(torch::equal(a, b));
}

}  // namespace
}  // namespace revunet::core

// Device choice from a user's string, and what to record about it.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace revunet::core {

// "cpu", "cuda" or "cuda:N". Throws revunet::Error (naming the option) when CUDA is asked for but
// this build or machine has none.
c10::Device parse_device(const std::string& text);

// "cpu (2 threads)" or the CUDA device's product name.
std::string describe_device(c10::Device device);

// Seeds LibTorch's CPU and CUDA generators. Seeds are always passed explicitly.
void seed_everything(uint64_t seed);

}  // namespace revunet::core

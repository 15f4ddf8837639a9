// Precompiled header: the heavy LibTorch includes every target uses. Not for direct inclusion.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

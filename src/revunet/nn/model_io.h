// A trained U-Net in one file: its weights and the JSON config that rebuilds it, so that a model
// file alone is enough to predict. The file is a LibTorch archive (torch::serialize) that loads
// with LibTorch 1.13 and 2.x, on CPU or CUDA.
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "revunet/nn/unet.h"
#include "revunet/nn/unet_config.h"

namespace revunet::nn {

// Format version written into every model file; bumped when the layout changes.
constexpr int64_t kModelFormatVersion = 1;

struct LoadedModel {
  UNet model{nullptr};
  UNetConfig config;
};

// Writes weights + config to `path` through a temporary file and a rename. `config` must describe
// the model's architecture (the modes and the patch hint may differ).
void save_model(const std::string& path, UNet& model, const UNetConfig& config);

// Rebuilds the network from the file's config and loads its weights onto `device`. A missing,
// truncated or foreign file throws revunet::Error naming the file.
LoadedModel load_model(const std::string& path, c10::Device device = c10::kCPU);

}  // namespace revunet::nn

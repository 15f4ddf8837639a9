// Weights that cross over to PyTorch: a state dict in the file format of Python's torch.save (a
// zip archive with one pickled dict of name -> tensor), which torch.load reads, also with
// weights_only=True (the default since PyTorch 2.6), plus the resolved model config as JSON beside
// it. The names are those of named_parameters()/named_buffers(), which the PyTorch twin
// (python/revunet_torch) registers identically, so model.load_state_dict(torch.load(f)) works.
#pragma once

#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

#include "revunet/nn/unet_config.h"

namespace revunet::nn {

// Name -> tensor in insertion order (the pickled dict keeps it).
using TensorDict = std::vector<std::pair<std::string, torch::Tensor>>;

// Every parameter and defined buffer of `module` under its dotted name, detached, contiguous and
// on the CPU.
TensorDict state_dict(const torch::nn::Module& module);

// Writes `tensors` as one pickled dict (torch.save's zip format), through a temporary file. The
// dict is written without TorchScript's type tag (torch.jit._pickle.restore_type_tag), which
// torch.load(weights_only=True) refuses.
void save_tensor_dict(const std::string& path, const TensorDict& tensors);

// Reads a dict of tensors written by save_tensor_dict (or by Python's torch.save of a plain dict).
// A missing, damaged or foreign file throws revunet::Error naming it.
TensorDict load_tensor_dict(const std::string& path);

// weights.pt -> weights.json; any other name gets ".json" appended.
std::string config_path_beside(const std::string& weights_path);

// The model's state dict at `path` and to_json(config) at config_path_beside(path). Returns the
// config's path.
std::string export_weights(const std::string& path, const torch::nn::Module& model,
                           const UNetConfig& config);

}  // namespace revunet::nn

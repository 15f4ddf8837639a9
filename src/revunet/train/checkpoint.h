// A training checkpoint in one file: weights, optimiser state, schedule position, RNG states, the
// data pipeline's state and split, and the model config, guarded by a checksum.
//
// File layout (all integers little-endian):
//   bytes  0..7   magic "RVNCKPT" followed by format version byte 0x01
//   bytes  8..15  uint64 payload size in bytes
//   bytes 16..19  uint32 crc32 (zlib) of the payload
//   bytes 20..23  reserved, 0
//   bytes 24..    payload: a torch::serialize::OutputArchive (LibTorch's zip format) holding
//                 "meta" (JSON text: format, epoch, iteration, trainer bookkeeping, tensor names),
//                 "model_config", "data_split" (strings), "data_state" (uint8 tensor, opaque
//                 bytes), "model_<i>" (parameters and buffers on CPU, in
//                 named_parameters/named_buffers order), "optimizer" (a nested archive from
//                 Optimizer::save), "rng_cpu" and "rng_cuda_<i>" (generator states).
// A truncated or damaged file fails with revunet::Error naming it. Files are written to a
// temporary file and renamed into place, so the previous checkpoint survives a failed write.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace revunet::train {

// Everything a checkpoint holds besides tensors of the model and optimiser.
struct CheckpointState {
  int64_t epoch = 0;                // completed epochs
  int64_t iteration = 0;            // completed optimiser steps (the schedule position)
  std::string model_config = "{}";  // JSON text from the caller, to rebuild the model
  std::string data_state;           // opaque bytes from the data pipeline (its RNG state)
  std::string data_split = "{}";    // JSON text: which cases train and validate
  nlohmann::json trainer = nlohmann::json::object();  // the trainer's bookkeeping (best metric)
};

// LibTorch's default generators: CPU and one per visible CUDA device.
struct RngStates {
  torch::Tensor cpu;
  std::vector<torch::Tensor> cuda;

  static RngStates capture();
  // Restores CPU and as many CUDA states as there are both saved states and devices.
  void restore() const;
};

void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const CheckpointState& state,
                     const RngStates& rng = RngStates::capture());

struct LoadedCheckpoint {
  CheckpointState state;
  RngStates rng;  // not applied by load_checkpoint: call rng.restore() when resuming
};

// Copies the weights into `model` (names and shapes must match; the model's own tensors and
// devices are kept) and, when `optimizer` is given, restores its state.
LoadedCheckpoint load_checkpoint(const std::string& path, torch::nn::Module& model,
                                 torch::optim::Optimizer* optimizer);

// The state alone (e.g. the model config to build the model before loading weights).
CheckpointState read_checkpoint_state(const std::string& path);

}  // namespace revunet::train

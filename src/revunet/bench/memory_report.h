// `revunet memory`, step 3: the terminal table, the peak-vs-voxels plot and --explain, the
// breakdown of one training step's peak into components.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "revunet/bench/memory_probe.h"
#include "revunet/nn/unet_config.h"

namespace revunet::bench {

// The table of run_memory_search's result: per mode the largest cube, voxels, couplings and base
// width, then the ratios against plain. Capped answers show as ">=N", fits beyond a cap as "~N?".
std::string memory_table(const nlohmann::json& result);

// Peak memory against input voxels (the measured cube probes) per mode, with the budget line.
void plot_memory(const nlohmann::json& result, const std::string& png_path);

// Derivation (every number is measured on the device, not computed from shapes, except the rows
// marked "shape arithmetic"):
//   parameters, gradients, optimizer state: the bytes of the tensors the model and AdamW hold;
//   input + target: the bytes of the two tensors;
//   stored outside the stages (stem, down/up-sampling, merges, head, the skips and every stage
//     output kept as the next layer's input): bytes held after a forward with autograd and every
//     stage reversible (a reversible stage keeps nothing of its own), split by part (stem,
//     down-sampling, up-sampling, ...) as the bytes each part of that forward leaves held;
//   stored by stage S: the same with only S switched to the mode asked for, minus the above;
//   live temporaries at the peak (the live coupling's recompute and backward buffers, activation
//     gradients, the loss): the step's activation peak minus everything the forward stored.
// TrainingProbe::stored_by_part's rows grouped by kind: stem, down-sampling, encoder stage
// outputs, up-sampling, skip merges, decoder stage outputs, deep heads, head; each
// {"group", "kind", "bytes", "parts": {name: bytes}}, in forward order, kinds absent are left out.
nlohmann::json group_parts(const std::vector<std::pair<std::string, int64_t>>& parts);

nlohmann::json explain_peak(const nn::UNetConfig& config, rev::StackMode mode, int64_t edge,
                            const ProbeOptions& options);
std::string explain_table(const nlohmann::json& explained);

}  // namespace revunet::bench

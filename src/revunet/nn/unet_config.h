// The U-Net's architecture as read from a JSON model config (configs/*.json, docs/configs.md).
// Parsing is strict: a bad value or an unknown field is a revunet::Error naming the field and the
// file, so a typo never silently falls back to a default.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "revunet/nn/layers.h"
#include "revunet/nn/mbconv.h"
#include "revunet/rev/reversible_sequence.h"

namespace revunet::nn {

enum class Downsampling { kStridedConv };
enum class Upsampling { kTransposedConv, kTrilinear };
enum class SkipMerge { kAdd, kConcat };

std::string to_string(Downsampling kind);
std::string to_string(Upsampling kind);
std::string to_string(SkipMerge kind);

// Fully resolved: `widths` and the coupling counts hold one entry per stage, whatever shorthand
// (base_width doubling, a single coupling count) the JSON used.
struct UNetConfig {
  int64_t in_channels = 4;
  int64_t out_channels = 3;  // WT, TC, ET
  int64_t levels = 4;
  std::vector<int64_t> widths = {16, 32, 64, 128};        // one per level, all even
  std::vector<int64_t> encoder_couplings = {1, 1, 1, 1};  // one per level (last = bottleneck)
  std::vector<int64_t> decoder_couplings = {1, 1, 1};     // one per decoder level (levels - 1)
  int64_t expansion = 4;
  int64_t kernel_size = 3;
  NormKind norm = NormKind::kGroup;
  int64_t groups = 8;
  ActivationKind activation = ActivationKind::kSiLU;
  bool squeeze_excitation = false;
  Downsampling downsampling = Downsampling::kStridedConv;
  Upsampling upsampling = Upsampling::kTransposedConv;
  SkipMerge skip = SkipMerge::kAdd;
  bool deep_supervision = false;
  rev::StackMode mode = rev::StackMode::kReversible;
  // Per-stage overrides of `mode`, keyed by stage name ("enc0".., "dec0"..).
  std::map<std::string, rev::StackMode> stage_modes;
  // Training hint: the patch size the trainer samples ([x, y, z]).
  std::vector<int64_t> patch = {128, 128, 128};
  // The config's "_notes" text, kept so that a saved model carries it.
  std::string notes;

  // The mode a stage runs in: its override, else `mode`.
  rev::StackMode stage_mode(const std::string& stage) const;
  // Spatial sizes must be multiples of this (the network pads other sizes): 2^(levels-1).
  int64_t size_multiple() const { return int64_t{1} << (levels - 1); }
  // MBConv options of the stages (channels are set per stage).
  MBConvOptions mbconv_options(int64_t channels) const;
};

// Stage names in build order: enc0 .. enc{levels-1} (the last is the bottleneck), then
// dec{levels-2} .. dec0 (decoder stages are numbered by the level whose resolution they run at).
std::vector<std::string> stage_names(int64_t levels);

// `source_name` (usually the file path) starts every error message.
UNetConfig unet_config_from_json(const nlohmann::json& json, const std::string& source_name);
UNetConfig load_unet_config(const std::string& path);
// The resolved form (explicit widths and per-stage coupling lists); parses back to an equal config.
nlohmann::json to_json(const UNetConfig& config);

}  // namespace revunet::nn

#include "revunet/nn/unet_config.h"

#include <algorithm>
#include <utility>

#include "revunet/core/error.h"
#include "revunet/core/json_file.h"

namespace revunet::nn {
namespace {

using nlohmann::json;

const std::vector<std::string>& known_fields() {
  static const std::vector<std::string> fields = {"in_channels",
                                                  "out_channels",
                                                  "levels",
                                                  "widths",
                                                  "base_width",
                                                  "max_width",
                                                  "encoder_couplings",
                                                  "decoder_couplings",
                                                  "expansion",
                                                  "kernel_size",
                                                  "norm",
                                                  "groups",
                                                  "activation",
                                                  "squeeze_excitation",
                                                  "downsampling",
                                                  "upsampling",
                                                  "skip",
                                                  "deep_supervision",
                                                  "mode",
                                                  "stage_modes",
                                                  "patch"};
  return fields;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Reads fields of one JSON object and turns every problem into "<source>: field '<name>' ...".
class FieldReader {
 public:
  FieldReader(const json& object, std::string source)
      : object_(object), source_(std::move(source)) {}

  bool has(const std::string& field) const { return object_.contains(field); }
  const json& at(const std::string& field) const { return object_.at(field); }

  [[noreturn]] void bad(const std::string& field, const std::string& problem) const {
    fail(source_, "field '" + field + "' " + problem);
  }

  int64_t integer(const std::string& field, const json& value, int64_t min) const {
    if (!value.is_number_integer() || value.get<int64_t>() < min) {
      bad(field, std::string("must be ") +
                     (min == 1 ? "a positive integer" : "an integer >= " + std::to_string(min)) +
                     ", got " + value.dump());
    }
    return value.get<int64_t>();
  }

  void read_int(const std::string& field, int64_t& out, int64_t min = 1) const {
    if (has(field)) out = integer(field, at(field), min);
  }

  void read_bool(const std::string& field, bool& out) const {
    if (!has(field)) return;
    if (!at(field).is_boolean()) bad(field, "must be true or false, got " + at(field).dump());
    out = at(field).get<bool>();
  }

  // A name out of `choices`; returns its index.
  size_t choice(const std::string& field, const json& value,
                const std::vector<std::string>& choices) const {
    if (value.is_string()) {
      auto it = std::find(choices.begin(), choices.end(), value.get<std::string>());
      if (it != choices.end()) return static_cast<size_t>(it - choices.begin());
    }
    bad(field, "must be one of " + join(choices) + ", got " + value.dump());
  }

  // An integer or a list of `count` integers, one per stage.
  std::vector<int64_t> per_stage(const std::string& field, size_t count, int64_t min) const {
    const json& value = at(field);
    if (value.is_array()) {
      if (value.size() != count) {
        bad(field, "must list one value per stage (" + std::to_string(count) + "), got " +
                       std::to_string(value.size()) + " in " + value.dump());
      }
      std::vector<int64_t> out;
      for (const auto& item : value) out.push_back(integer(field, item, min));
      return out;
    }
    if (!value.is_number_integer()) {
      bad(field, "must be an integer or a list of " + std::to_string(count) + " integers, got " +
                     value.dump());
    }
    return std::vector<int64_t>(count, integer(field, value, min));
  }

  const std::string& source() const { return source_; }

 private:
  const json& object_;
  std::string source_;
};

void reject_unknown_fields(const json& object, const std::string& source) {
  const auto& known = known_fields();
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    if (!key.empty() && key[0] == '_') continue;  // "_notes" and other comments
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string hint;
    size_t best = 3;  // suggest only close matches
    for (const auto& candidate : known) {
      const size_t d = edit_distance(key, candidate);
      if (d < best) best = d, hint = " (did you mean '" + candidate + "'?)";
    }
    fail(source, "unknown field '" + key + "'" + hint + "; known fields: " + join(known) +
                     " (fields starting with '_' are comments)");
  }
}

std::vector<int64_t> read_widths(const FieldReader& r, int64_t levels) {
  if (r.has("widths") && (r.has("base_width") || r.has("max_width"))) {
    r.bad("widths", "and 'base_width'/'max_width' are two ways to give the widths; use one");
  }
  std::vector<int64_t> widths;
  std::string field = "widths";
  if (r.has("widths")) {
    widths = r.per_stage("widths", static_cast<size_t>(levels), 1);
    if (!r.at("widths").is_array()) r.bad("widths", "must be a list with one width per level");
  } else {
    field = "base_width";
    int64_t base = 16;
    int64_t cap = 0;
    r.read_int("base_width", base);
    r.read_int("max_width", cap);
    if (cap > 0 && cap < base) {
      r.bad("max_width",
            "(" + std::to_string(cap) + ") must be >= base_width (" + std::to_string(base) + ")");
    }
    for (int64_t l = 0; l < levels; ++l) {
      const int64_t w = base << l;
      widths.push_back(cap > 0 ? std::min(w, cap) : w);
    }
    if (cap > 0 && cap % 2 != 0) field = "max_width";
  }
  for (size_t l = 0; l < widths.size(); ++l) {
    if (widths[l] % 2 != 0) {
      r.bad(field, "gives " + std::to_string(widths[l]) + " channels at level " +
                       std::to_string(l) +
                       ", but every stage is a reversible MBConv stack whose couplings split the "
                       "channels in two halves: channel counts must be even");
    }
  }
  return widths;
}

std::map<std::string, rev::StackMode> read_stage_modes(const FieldReader& r, int64_t levels) {
  std::map<std::string, rev::StackMode> out;
  if (!r.has("stage_modes")) return out;
  const json& value = r.at("stage_modes");
  if (!value.is_object()) {
    r.bad("stage_modes", "must be an object like {\"enc0\": \"plain\"}, got " + value.dump());
  }
  const auto names = stage_names(levels);
  const std::vector<std::string> modes = {"plain", "checkpoint", "reversible"};
  for (const auto& item : value.items()) {
    if (std::find(names.begin(), names.end(), item.key()) == names.end()) {
      r.bad("stage_modes", "names stage '" + item.key() + "', but a " + std::to_string(levels) +
                               "-level U-Net has the stages " + join(names));
    }
    const size_t index = r.choice("stage_modes." + item.key(), item.value(), modes);
    out[item.key()] = rev::parse_stack_mode(modes[index]);
  }
  return out;
}

}  // namespace

std::string to_string(Downsampling) {
  return "strided_conv";
}
std::string to_string(Upsampling kind) {
  return kind == Upsampling::kTrilinear ? "trilinear" : "transposed_conv";
}
std::string to_string(SkipMerge kind) {
  return kind == SkipMerge::kConcat ? "concat" : "add";
}

rev::StackMode UNetConfig::stage_mode(const std::string& stage) const {
  auto it = stage_modes.find(stage);
  return it == stage_modes.end() ? mode : it->second;
}

MBConvOptions UNetConfig::mbconv_options(int64_t channels) const {
  return MBConvOptions(channels)
      .expansion(expansion)
      .kernel_size(kernel_size)
      .norm(norm)
      .groups(groups)
      .activation(activation)
      .squeeze_excitation(squeeze_excitation);
}

std::vector<std::string> stage_names(int64_t levels) {
  std::vector<std::string> names;
  for (int64_t l = 0; l < levels; ++l) names.push_back("enc" + std::to_string(l));
  for (int64_t l = levels - 2; l >= 0; --l) names.push_back("dec" + std::to_string(l));
  return names;
}

UNetConfig unet_config_from_json(const json& value, const std::string& source_name) {
  if (!value.is_object()) {
    fail(source_name,
         "a model config must be a JSON object of fields, got " + std::string(value.type_name()));
  }
  reject_unknown_fields(value, source_name);
  FieldReader r(value, source_name);
  UNetConfig c;

  r.read_int("in_channels", c.in_channels);
  r.read_int("out_channels", c.out_channels);
  if (r.has("levels")) {
    c.levels = r.integer("levels", r.at("levels"), 1);
  } else if (r.has("widths") && r.at("widths").is_array()) {
    c.levels = static_cast<int64_t>(r.at("widths").size());
  }
  if (c.levels < 1 || c.levels > 8) {
    r.bad("levels", "must be between 1 and 8, got " + std::to_string(c.levels));
  }
  const auto levels = static_cast<size_t>(c.levels);
  c.widths = read_widths(r, c.levels);
  c.encoder_couplings = r.has("encoder_couplings") ? r.per_stage("encoder_couplings", levels, 1)
                                                   : std::vector<int64_t>(levels, 1);
  c.decoder_couplings = r.has("decoder_couplings") ? r.per_stage("decoder_couplings", levels - 1, 1)
                                                   : std::vector<int64_t>(levels - 1, 1);
  r.read_int("expansion", c.expansion);
  r.read_int("kernel_size", c.kernel_size);
  if (c.kernel_size % 2 == 0) {
    r.bad("kernel_size", "must be odd (so the depthwise conv keeps the shape), got " +
                             std::to_string(c.kernel_size));
  }
  if (r.has("norm")) {
    c.norm = r.choice("norm", r.at("norm"), {"group", "instance"}) == 0 ? NormKind::kGroup
                                                                        : NormKind::kInstance;
  }
  r.read_int("groups", c.groups);
  if (r.has("activation")) {
    const std::vector<std::string> names = {"silu", "relu6", "leaky_relu"};
    c.activation = parse_activation(names[r.choice("activation", r.at("activation"), names)]);
  }
  r.read_bool("squeeze_excitation", c.squeeze_excitation);
  if (r.has("downsampling")) r.choice("downsampling", r.at("downsampling"), {"strided_conv"});
  if (r.has("upsampling")) {
    c.upsampling = r.choice("upsampling", r.at("upsampling"), {"transposed_conv", "trilinear"}) == 0
                       ? Upsampling::kTransposedConv
                       : Upsampling::kTrilinear;
  }
  if (r.has("skip")) {
    c.skip = r.choice("skip", r.at("skip"), {"add", "concat"}) == 0 ? SkipMerge::kAdd
                                                                    : SkipMerge::kConcat;
  }
  r.read_bool("deep_supervision", c.deep_supervision);
  if (r.has("mode")) {
    const std::vector<std::string> modes = {"plain", "checkpoint", "reversible"};
    c.mode = rev::parse_stack_mode(modes[r.choice("mode", r.at("mode"), modes)]);
  }
  c.stage_modes = read_stage_modes(r, c.levels);
  if (r.has("patch")) {
    const json& patch = r.at("patch");
    if (!patch.is_array() || patch.size() != 3) {
      r.bad("patch", "must be a list of 3 sizes [x, y, z], got " + patch.dump());
    }
    c.patch = r.per_stage("patch", 3, 1);
  }
  if (value.contains("_notes")) {
    const json& notes = value.at("_notes");
    if (notes.is_string()) {
      c.notes = notes.get<std::string>();
    } else if (notes.is_array()) {
      for (const auto& line : notes) {
        c.notes += (c.notes.empty() ? "" : "\n") +
                   (line.is_string() ? line.get<std::string>() : line.dump());
      }
    }
  }
  return c;
}

UNetConfig load_unet_config(const std::string& path) {
  return unet_config_from_json(core::read_json_file(path), path);  // a repeated key is an error
}

json to_json(const UNetConfig& c) {
  json stage_modes = json::object();
  for (const auto& [stage, mode] : c.stage_modes) stage_modes[stage] = rev::to_string(mode);
  json out = {{"in_channels", c.in_channels},
              {"out_channels", c.out_channels},
              {"levels", c.levels},
              {"widths", c.widths},
              {"encoder_couplings", c.encoder_couplings},
              {"decoder_couplings", c.decoder_couplings},
              {"expansion", c.expansion},
              {"kernel_size", c.kernel_size},
              {"norm", to_string(c.norm)},
              {"groups", c.groups},
              {"activation", to_string(c.activation)},
              {"squeeze_excitation", c.squeeze_excitation},
              {"downsampling", to_string(c.downsampling)},
              {"upsampling", to_string(c.upsampling)},
              {"skip", to_string(c.skip)},
              {"deep_supervision", c.deep_supervision},
              {"mode", rev::to_string(c.mode)},
              {"stage_modes", stage_modes},
              {"patch", c.patch}};
  if (!c.notes.empty()) out["_notes"] = c.notes;
  return out;
}

}  // namespace revunet::nn

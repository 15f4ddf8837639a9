#include "revunet/bench/memory_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "revunet/core/png.h"
#include "revunet/core/run_info.h"
#include "revunet/nn/unet.h"
#include "revunet/train/plot.h"

namespace revunet::bench {
namespace {

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", bytes / 1048576.0);
  return buf;
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

// A search's answer as the table shows it: exact, ">=N" when a cap stopped it, "~N?" beyond.
std::string answer(const nlohmann::json& mode, const char* key, const char* search,
                   const char* extrapolated_key) {
  if (!mode.contains(key)) return "-";
  std::string s = std::to_string(mode[key].get<int64_t>());
  if (mode.contains(search) && !mode[search]["bracketed"].get<bool>()) s = ">=" + s;
  if (mode.contains("extrapolated") && mode["extrapolated"].contains(extrapolated_key)) {
    s += " (~" + std::to_string(mode["extrapolated"][extrapolated_key].get<int64_t>()) + "?)";
  }
  return s;
}

}  // namespace

nlohmann::json group_parts(const std::vector<std::pair<std::string, int64_t>>& parts) {
  // In forward order; a part's name is its kind followed by its level.
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"stem", "stem (conv, norm, activation at full resolution)"},
      {"down", "down-sampling (strided conv, norm, activation; keeps the skip)"},
      {"enc", "encoder stage outputs (kept as the next layer's input)"},
      {"up", "up-sampling"},
      {"merge", "skip merges"},
      {"dec", "decoder stage outputs"},
      {"deep_head", "deep-supervision heads"},
      {"head", "head (1x1x1 conv, logits)"}};
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& [prefix, label] : kinds) {
    int64_t bytes = 0;
    nlohmann::json members = nlohmann::json::object();
    for (const auto& [part, b] : parts) {
      const std::string rest = part.substr(std::min(part.size(), prefix.size()));
      const bool digits_follow = !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
      if (part == prefix || (part.rfind(prefix, 0) == 0 && digits_follow)) {
        bytes += b;
        members[part] = b;
      }
    }
    if (members.empty()) continue;
    groups.push_back({{"group", label}, {"kind", prefix}, {"bytes", bytes}, {"parts", members}});
  }
  return groups;
}

std::string memory_table(const nlohmann::json& result) {
  std::ostringstream out;
  out << "budget " << mib(result["budget_bytes"].get<double>()) << " MiB, "
      << result["dtype"].get<std::string>() << ", " << result["device"].dump()
      << "; couplings and width at " << result["fixed_edge"] << "^3\n";
  out << pad("mode", 12) << pad("max cube", 18) << pad("max voxels", 14) << pad("max couplings", 18)
      << pad("max base width", 18) << "\n";
  for (const auto& m : result["modes"]) {
    out << pad(m["mode"].get<std::string>(), 12)
        << pad(answer(m, "max_cube", "cube_search", "max_cube"), 18)
        << pad(m.contains("max_cube_voxels") ? std::to_string(m["max_cube_voxels"].get<int64_t>())
                                             : "-",
               14)
        << pad(answer(m, "max_couplings", "couplings_search", "max_couplings"), 18)
        << pad(answer(m, "max_base_width", "width_search", "max_base_width"), 18) << "\n";
    if (m.contains("max_shape")) {
      out << "    largest 240x240x155 crop scale " << m["max_shape_scale"] << ": "
          << m["max_shape"].dump() << "\n";
    }
  }
  for (const auto& [name, ratios] : result["ratios"].items()) {
    out << name << ":";
    for (const auto& [key, value] : ratios.items()) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), " %s %.2fx", key.c_str(), value.get<double>());
      out << buf;
    }
    out << "\n";
  }
  out << "(>=N: stopped by a cap, not by the budget; (~N?): linear-fit extrapolation, not "
         "measured)\n";
  return out.str();
}

void plot_memory(const nlohmann::json& result, const std::string& png_path) {
  const std::vector<core::Rgb> colors = {{31, 119, 180}, {214, 39, 40}, {44, 160, 44}};
  std::vector<train::Series> series;
  double x_max = 0;
  for (const auto& m : result["modes"]) {
    if (!m.contains("probes")) continue;
    train::Series s;
    s.name = m["mode"].get<std::string>();
    s.color = colors[series.size() % colors.size()];
    std::vector<std::pair<double, double>> points;
    for (const auto& p : m["probes"]) {
      if (p["out_of_memory"].get<bool>()) continue;
      points.emplace_back(p["voxels"].get<double>() / 1e6,
                          p["peak_bytes"].get<double>() / 1048576.0);
    }
    std::sort(points.begin(), points.end());
    for (const auto& [x, y] : points) {
      s.x.push_back(x);
      s.y.push_back(y);
      x_max = std::max(x_max, x);
    }
    series.push_back(s);
  }
  const double budget = result["budget_bytes"].get<double>() / 1048576.0;
  series.push_back({"budget", {0.0, x_max}, {budget, budget}, {0, 0, 0}});
  core::RgbImage image(900, 520);
  train::draw_chart(image, 0, 0, 900, 520, "peak MiB of one training step",
                    "input voxels (millions)", series);
  core::write_png(png_path, image);
}

nlohmann::json explain_peak(const nn::UNetConfig& config, rev::StackMode mode, int64_t edge,
                            const ProbeOptions& options) {
  TrainingProbe probe(config, mode, options);
  const Shape3 shape{edge, edge, edge};
  const ProbeResult r = probe.measure(shape);
  auto& model = probe.model();
  model->set_mode(rev::StackMode::kReversible);
  const std::vector<std::pair<std::string, int64_t>> parts = probe.stored_by_part(shape);
  const nlohmann::json groups = group_parts(parts);
  int64_t outside = 0;
  for (const auto& [part, bytes] : parts) outside += bytes;
  nlohmann::json stages = nlohmann::json::array();
  int64_t stage_sum = 0;
  for (const auto& name : model->stage_names()) {
    model->set_mode(rev::StackMode::kReversible);
    model->set_stage_mode(name, mode);
    const int64_t bytes = probe.stored_after_forward(shape) - outside;
    stage_sum += bytes;
    stages.push_back({{"stage", name}, {"stored_bytes", bytes}});
  }
  model->set_mode(mode);
  const int64_t stored_total = probe.stored_after_forward(shape);
  // Shape arithmetic: the encoder outputs the decoder merges later (float32).
  int64_t skips = 0;
  for (int64_t l = 0; l + 1 < config.levels; ++l) {
    const int64_t side = edge >> l;
    skips += config.widths[l] * side * side * side * 4;
  }
  nlohmann::json j = core::run_info(options.device);
  j["mode"] = rev::to_string(mode);
  j["edge"] = edge;
  j["probe"] = to_json(r);
  j["components"] = {
      {{"component", "parameters"}, {"bytes", r.parameter_bytes}},
      {{"component", "gradients"}, {"bytes", r.gradient_bytes}},
      {{"component", "optimizer state (AdamW)"}, {"bytes", r.optimizer_bytes}},
      {{"component", "input + target"}, {"bytes", r.input_bytes}},
      {{"component", "stored outside the stages (stem, down/up, merges, head, skips)"},
       {"bytes", outside}},
  };
  for (const auto& g : groups) {
    j["components"].push_back(
        {{"component", "  " + g["group"].get<std::string>()}, {"bytes", g["bytes"]}});
  }
  j["components"].push_back(
      {{"component", "  skips among the above (shape arithmetic)"}, {"bytes", skips}});
  j["parts"] = groups;
  for (const auto& s : stages) {
    j["components"].push_back({{"component", "stored by stage " + s["stage"].get<std::string>()},
                               {"bytes", s["stored_bytes"]}});
  }
  j["components"].push_back({{"component", "stage interaction (stored total - parts)"},
                             {"bytes", stored_total - outside - stage_sum}});
  j["components"].push_back(
      {{"component", "live temporaries at the peak (live coupling, activation grads, loss)"},
       {"bytes", r.activation_bytes - stored_total}});
  j["components"].push_back({{"component", "peak (measured)"}, {"bytes", r.peak_bytes}});
  j["derivation"] =
      "parameters/gradients/optimizer/input: tensor bytes; stored rows: device bytes held after a "
      "forward with autograd (all stages reversible, then one stage in the mode), split by part "
      "as the bytes each part of the forward leaves held; live "
      "temporaries: measured step peak minus params, grads, optimizer, input and the stored graph";
  return j;
}

std::string explain_table(const nlohmann::json& j) {
  std::ostringstream out;
  out << "peak of one training step, mode " << j["mode"].get<std::string>() << ", edge "
      << j["edge"] << "^3" << (j["probe"]["fits"].get<bool>() ? "" : " (over the budget)") << "\n";
  out << "how: " << j["derivation"].get<std::string>() << "\n\n";
  const double peak = std::max(1.0, j["probe"]["peak_bytes"].get<double>());
  for (const auto& c : j["components"]) {
    const double b = c["bytes"].get<double>();
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%5.1f%%", 100.0 * b / peak);
    out << pad(c["component"].get<std::string>(), 72) << pad(mib(b) + " MiB", 14) << pct << "\n";
  }
  return out.str();
}

}  // namespace revunet::bench

#include "revunet/bench/memory_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>

#include "revunet/core/error.h"
#include "revunet/core/run_info.h"

namespace revunet::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kGiB = int64_t{1} << 30;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Largest k in [from, to] whose predicted peak is at most `bytes` (from - 1 when none).
int64_t largest_predicted(const LinearFit& fit, const std::function<double(int64_t)>& x_of_k,
                          int64_t from, int64_t to, double bytes) {
  int64_t best = from - 1;
  for (int64_t k = from; k <= to; ++k) {
    if (fit.at(x_of_k(k)) <= bytes) best = k;
  }
  return best;
}

nlohmann::json probes_json(const SearchResult& s) {
  auto out = nlohmann::json::array();
  for (const auto& p : s.probes) out.push_back(to_json(p));
  return out;
}

// The JSON of one search: measured answer, how it stopped, and any extrapolation beyond a cap.
nlohmann::json search_json(const SearchResult& s, const std::string& variable,
                           const std::function<double(int64_t)>& value_of_k) {
  nlohmann::json j = {{"best", s.best_k > 0 ? value_of_k(s.best_k) : 0.0},
                      {"bracketed", s.bracketed},
                      {"probes", probes_json(s)}};
  if (!s.capped.empty()) j["capped"] = s.capped;
  if (s.extrapolated_k > 0) {
    nlohmann::json from = nlohmann::json::array();
    for (size_t i = 0; i < s.probes.size(); ++i) {
      if (!s.probes[i].out_of_memory) {
        from.push_back({{variable, value_of_k(s.ks[i])}, {"peak_bytes", s.probes[i].peak_bytes}});
      }
    }
    j["extrapolated"] = {{"value", value_of_k(s.extrapolated_k)},
                         {"note", "NOT measured: linear fit peak = a + b * x beyond the cap"},
                         {"x", variable},
                         {"a", s.fit.a},
                         {"b", s.fit.b},
                         {"from", from}};
  }
  return j;
}

}  // namespace

LinearFit fit_peaks(const std::vector<double>& x, const std::vector<double>& peak) {
  LinearFit f;
  const size_t n = x.size();
  if (n < 2) return f;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sx += x[i];
    sy += peak[i];
    sxx += x[i] * x[i];
    sxy += x[i] * peak[i];
  }
  const double det = n * sxx - sx * sx;
  if (std::abs(det) < 1e-12 * std::max(1.0, sxx * n)) return f;
  f.b = (n * sxy - sx * sy) / det;
  f.a = (sy - f.b * sx) / n;
  f.valid = f.b > 0;  // a flat or falling fit cannot place candidates
  return f;
}

SearchResult search_largest(const SearchLimits& lim, const std::function<double(int64_t)>& x_of_k,
                            const std::function<ProbeResult(int64_t)>& probe) {
  const auto t0 = Clock::now();
  SearchResult s;
  int64_t lo = 0, hi = lim.k_max + 1;  // lo fits (0: nothing yet), hi fails once `bracketed`
  bool last_was_creep = false;
  std::vector<double> xs, peaks;
  double seconds_per_x = 0, largest_x = 0;  // time per x of the largest probe
  while (hi - lo > 1) {
    if (lim.seconds > 0 && !s.probes.empty() && seconds_since(t0) > lim.seconds) {
      s.capped = "time limit";
      break;
    }
    s.fit = fit_peaks(xs, peaks);
    int64_t cand;
    if (s.bracketed && (!s.fit.valid || last_was_creep)) {
      cand = lo + (hi - lo) / 2;
    } else if (!s.bracketed && last_was_creep) {
      // The fit was pessimistic by a step: grow by a quarter rather than jump far past the budget.
      cand = lo + std::max<int64_t>(2, lo / 4);
    } else if (!s.bracketed && (!s.fit.valid || lo == 0)) {
      cand = std::max<int64_t>(1, 2 * lo);
    } else {
      cand =
          largest_predicted(s.fit, x_of_k, lo + 1, hi - 1, static_cast<double>(lim.budget_bytes));
      if (cand <= lo) cand = lo + 1;
      if (!s.bracketed) cand = std::min(cand, 2 * lo);  // a fit from small sizes may be optimistic
    }
    cand = std::clamp(cand, lo + 1, hi - 1);
    if (lim.cap_bytes > 0 && s.fit.valid && s.fit.at(x_of_k(cand)) > lim.cap_bytes) {
      const int64_t capped = largest_predicted(s.fit, x_of_k, lo + 1, cand, lim.cap_bytes);
      if (capped <= lo) {
        s.capped = "memory cap";
        break;
      }
      cand = capped;
    }
    // A probe predicted to overrun the time left is shrunk (its time grows with x like its bytes).
    if (lim.seconds > 0 && !xs.empty()) {
      const double left = lim.seconds - seconds_since(t0);
      while (cand > lo && seconds_per_x * x_of_k(cand) > left) --cand;
      if (cand <= lo) {
        s.capped = "time limit";
        break;
      }
    }
    ProbeResult r = probe(cand);
    s.ks.push_back(cand);
    s.probes.push_back(r);
    if (x_of_k(cand) >= largest_x) {  // small probes are all overhead: rate of the largest
      largest_x = x_of_k(cand);
      seconds_per_x = r.seconds / std::max(1.0, largest_x);
    }
    if (!r.out_of_memory) {
      xs.push_back(x_of_k(cand));
      peaks.push_back(static_cast<double>(r.peak_bytes));
    }
    last_was_creep = r.fits && cand == lo + 1 && lo > 0;
    if (r.fits) {
      lo = cand;
    } else {
      hi = cand;
      s.bracketed = true;
    }
  }
  s.best_k = lo;
  s.fit = fit_peaks(xs, peaks);
  if (!s.bracketed && s.capped.empty()) s.capped = "search range limit";
  if (s.bracketed && hi == lo + 1) s.capped.clear();
  if (!s.bracketed && s.fit.valid && lo > 0) {
    // Beyond the cap only the fit speaks; scan far enough for any sensible budget.
    const int64_t k = largest_predicted(s.fit, x_of_k, lo + 1, 64 * std::max<int64_t>(lo, 8),
                                        static_cast<double>(lim.budget_bytes));
    if (k > lo) s.extrapolated_k = k;
  }
  return s;
}

int64_t width_step(const nn::UNetConfig& config) {
  const int64_t step = std::max<int64_t>(8, 2 * config.groups);
  return (step + 7) / 8 * 8;
}

nn::UNetConfig with_base_width(nn::UNetConfig config, int64_t base) {
  const int64_t step = width_step(config);
  const double old_base = static_cast<double>(config.widths.at(0));
  for (auto& w : config.widths) {
    const double scaled = static_cast<double>(w) * base / old_base;
    w = std::max<int64_t>(step, static_cast<int64_t>(std::lround(scaled / step)) * step);
  }
  return config;
}

nn::UNetConfig with_couplings(nn::UNetConfig config, int64_t couplings) {
  for (auto& c : config.encoder_couplings) c = couplings;
  for (auto& c : config.decoder_couplings) c = couplings;
  return config;
}

Shape3 brats_crop(int64_t k, int64_t multiple) {
  auto side = [&](int64_t full) {
    const int64_t scaled = (full * k + 7) / 8;
    return std::max(multiple, (scaled + multiple - 1) / multiple * multiple);
  };
  return {side(240), side(240), side(155)};
}

nlohmann::json run_memory_search(const nn::UNetConfig& config, const MemoryOptions& o) {
  const bool cuda = o.probe.device.is_cuda();
  const int64_t m = config.size_multiple();
  const int64_t max_edge = o.max_edge > 0 ? o.max_edge : (cuda ? 1024 : 256);
  const double time_limit = o.time_limit > 0 ? o.time_limit : (cuda ? 0.0 : 240.0);
  const int64_t cap_bytes = o.cap_bytes > 0 ? o.cap_bytes : (cuda ? 0 : 20 * kGiB);
  int64_t fixed_edge = o.fixed_edge > 0 ? o.fixed_edge : config.patch.at(0);
  fixed_edge = std::max(m, fixed_edge / m * m);
  if (o.probe.budget_bytes <= 0) fail("--budget", "must be positive");
  if (max_edge < m) fail("--max-edge", "must be at least " + std::to_string(m));

  nlohmann::json result = core::run_info(o.probe.device);
  result["config"] = o.config_path;
  result["budget_bytes"] = o.probe.budget_bytes;
  result["dtype"] = o.probe.bf16 ? "bf16" : "fp32";
  result["fixed_edge"] = fixed_edge;
  result["limits"] = {{"max_edge", max_edge},
                      {"max_couplings", o.max_couplings},
                      {"max_base_width", o.max_width},
                      {"time_limit_seconds", time_limit},
                      {"cap_bytes", cap_bytes}};
  result["modes"] = nlohmann::json::array();

  const auto t0 = Clock::now();
  // The cube search gets two shares of the time: it is the question asked first and probes
  // the largest inputs.
  const int per_mode = 2 * int(o.cube) + int(o.shape) + int(o.couplings) + int(o.width);
  int searches_left = static_cast<int>(o.modes.size()) * per_mode;
  // Each search gets an equal share of what is left, so an early fast one leaves time to later.
  auto limits = [&](int64_t k_max, int shares = 1) {
    SearchLimits l;
    l.budget_bytes = o.probe.budget_bytes;
    l.k_max = std::max<int64_t>(1, k_max);
    l.cap_bytes = cap_bytes;
    if (time_limit > 0) {
      l.seconds =
          std::max(1.0, (time_limit - seconds_since(t0)) * shares / std::max(1, searches_left));
    }
    searches_left -= shares;
    return l;
  };
  auto log = [&](const std::string& what, rev::StackMode mode, const ProbeResult& r) {
    std::cerr << "memory " << rev::to_string(mode) << " " << what << " " << r.shape[0] << "x"
              << r.shape[1] << "x" << r.shape[2] << ": "
              << (r.out_of_memory ? std::string("out of memory")
                                  : std::to_string(r.peak_bytes / 1048576) + " MiB")
              << (r.fits ? " fits" : " does not fit") << " (" << r.seconds << " s)\n";
  };

  for (rev::StackMode mode : o.modes) {
    nlohmann::json mj = {{"mode", rev::to_string(mode)}};
    if (o.cube) {
      TrainingProbe probe(config, mode, o.probe);
      auto s = search_largest(
          limits(max_edge / m, 2), [&](int64_t k) { return std::pow(double(k * m), 3); },
          [&](int64_t k) {
            auto r = probe.measure({k * m, k * m, k * m});
            log("cube", mode, r);
            return r;
          });
      const int64_t edge = s.best_k * m;
      mj["max_cube"] = edge;
      mj["max_cube_voxels"] = edge * edge * edge;
      mj["parameter_bytes"] = probe.parameter_bytes();
      mj["gradient_bytes"] = probe.gradient_bytes();
      mj["optimizer_bytes"] = probe.optimizer_bytes();
      auto j = search_json(s, "voxels", [&](int64_t k) { return std::pow(double(k * m), 3); });
      mj["probes"] = j["probes"];
      mj["cube_search"] = j;
      if (j.contains("extrapolated")) {
        const double v = j["extrapolated"]["value"];
        mj["extrapolated"]["max_cube"] = s.extrapolated_k * m;
        mj["extrapolated"]["max_cube_voxels"] = v;
        mj["extrapolated"]["cube_fit"] = j["extrapolated"];
      }
    }
    if (o.shape) {
      TrainingProbe probe(config, mode, o.probe);
      auto s = search_largest(
          limits(32), [&](int64_t k) { return double(voxels(brats_crop(k, m))); },
          [&](int64_t k) {
            auto r = probe.measure(brats_crop(k, m));
            log("crop", mode, r);
            return r;
          });
      const Shape3 best = s.best_k > 0 ? brats_crop(s.best_k, m) : Shape3{0, 0, 0};
      mj["max_shape"] = {best[0], best[1], best[2]};
      mj["max_shape_scale"] = s.best_k / 8.0;
      mj["max_shape_voxels"] = voxels(best);
      mj["shape_search"] =
          search_json(s, "voxels", [&](int64_t k) { return double(voxels(brats_crop(k, m))); });
      if (s.extrapolated_k > 0) mj["extrapolated"]["max_shape_scale"] = s.extrapolated_k / 8.0;
    }
    if (o.couplings) {
      auto s = search_largest(
          limits(o.max_couplings), [](int64_t k) { return double(k); },
          [&](int64_t k) {
            auto r = probe_fresh(with_couplings(config, k), mode, o.probe,
                                 {fixed_edge, fixed_edge, fixed_edge});
            log("couplings " + std::to_string(k), mode, r);
            return r;
          });
      mj["max_couplings"] = s.best_k;
      mj["couplings_search"] = search_json(s, "couplings", [](int64_t k) { return double(k); });
      if (s.extrapolated_k > 0) mj["extrapolated"]["max_couplings"] = s.extrapolated_k;
    }
    if (o.width) {
      const int64_t step = width_step(config);
      auto s = search_largest(
          limits(o.max_width / step), [&](int64_t k) { return double(k * step); },
          [&](int64_t k) {
            auto r = probe_fresh(with_base_width(config, k * step), mode, o.probe,
                                 {fixed_edge, fixed_edge, fixed_edge});
            log("width " + std::to_string(k * step), mode, r);
            return r;
          });
      mj["max_base_width"] = s.best_k * step;
      mj["width_search"] =
          search_json(s, "base_width", [&](int64_t k) { return double(k * step); });
      if (s.extrapolated_k > 0) mj["extrapolated"]["max_base_width"] = s.extrapolated_k * step;
    }
    result["modes"].push_back(mj);
  }

  // Ratios of every mode against plain, for each answer both have.
  nlohmann::json ratios = nlohmann::json::object();
  const nlohmann::json* plain = nullptr;
  for (const auto& mj : result["modes"]) {
    if (mj["mode"] == "plain") plain = &mj;
  }
  if (plain != nullptr) {
    for (const auto& mj : result["modes"]) {
      if (mj["mode"] == "plain") continue;
      nlohmann::json r = nlohmann::json::object();
      // A ratio of two bracketed answers is measured; where a cap stopped either search the
      // ratio uses the extrapolated answers instead and says so in its name.
      const std::vector<std::pair<const char*, const char*>> keys = {
          {"max_cube", "cube_search"},
          {"max_cube_voxels", "cube_search"},
          {"max_shape_voxels", "shape_search"},
          {"max_couplings", "couplings_search"},
          {"max_base_width", "width_search"}};
      for (const auto& entry : keys) {
        const char* key = entry.first;  // not a structured binding: lambdas capture it
        const char* search = entry.second;
        if (!mj.contains(key) || !plain->contains(key)) continue;
        auto value = [&](const nlohmann::json& m, bool* measured) {
          *measured = m.contains(search) && m[search]["bracketed"].get<bool>();
          if (!*measured && m.contains("extrapolated") && m["extrapolated"].contains(key)) {
            return m["extrapolated"][key].get<double>();
          }
          return m[key].get<double>();
        };
        bool mine_measured = false, plain_measured = false;
        const double mine = value(mj, &mine_measured), p = value(*plain, &plain_measured);
        if (p <= 0) continue;
        const std::string name =
            mine_measured && plain_measured ? std::string(key) : std::string("extrapolated_") + key;
        r[name] = mine / p;
      }
      ratios[mj["mode"].get<std::string>() + "_vs_plain"] = r;
    }
  }
  result["ratios"] = ratios;
  result["seconds"] = seconds_since(t0);
  return result;
}

nlohmann::json run_memory(const MemoryOptions& o) {
  if (o.config_path.empty()) fail("--config", "a model config (configs/*.json) is needed");
  return run_memory_search(nn::load_unet_config(o.config_path), o);
}

}  // namespace revunet::bench

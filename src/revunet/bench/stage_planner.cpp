#include "revunet/bench/stage_planner.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <ostream>
#include <sstream>

#include "revunet/core/atomic_file.h"
#include "revunet/core/bytes.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/json_file.h"
#include "revunet/core/run_info.h"
#include "revunet/nn/unet.h"

namespace revunet::bench {
namespace {

constexpr std::array<rev::StackMode, 3> kModes = {
    rev::StackMode::kPlain, rev::StackMode::kCheckpoint, rev::StackMode::kReversible};
constexpr int kReversible = static_cast<int>(rev::StackMode::kReversible);
// Candidates the model predicts to fit, kept in time order for verification.
constexpr size_t kCandidates = 64;
// Beyond this many stages (a 7-level U-Net has 13) exact enumeration would take too long.
constexpr size_t kMaxStages = 13;

int index_of(rev::StackMode mode) {
  return static_cast<int>(mode);
}

double plan_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int recomputing_stages(const StagePlan& plan) {
  int n = 0;
  for (const auto m : plan) n += m != rev::StackMode::kPlain;
  return n;
}

std::string plan_mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", bytes / 1048576.0);
  return buf;
}

std::string plan_signed_mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%+.2f", bytes / 1048576.0);
  return buf;
}

std::string plan_ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", seconds * 1e3);
  return buf;
}

std::string plan_pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

nlohmann::json modes_json(const std::vector<std::string>& stages, const StagePlan& plan) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < stages.size(); ++i) j[stages[i]] = rev::to_string(plan[i]);
  return j;
}

// One plan measured as a whole: warm-up steps, then the median of timed ones; the peak is the
// highest of the timed steps.
struct Measured {
  ProbeResult probe;
  double seconds = 0;  // measured median
  double cost = 0;     // what the planner charges (options.step_cost, default the median)
  bool paired = false;
  double paired_delta = 0;  // median cost difference against the paired plan's adjacent steps
};

class PlanProber {
 public:
  PlanProber(const nn::UNetConfig& config, const PlanOptions& options)
      : options_(options), stages_(nn::stage_names(config.levels)) {
    // The probes run without the budget as a memory fraction: a single switched stage may need
    // more than the budget, and its delta is still wanted. Budgets are compared afterwards.
    ProbeOptions probe = options.probe;
    probe.budget_bytes = 0;
    probe_ = std::make_unique<TrainingProbe>(config, rev::StackMode::kReversible, probe);
  }

  const std::vector<std::string>& stages() const { return stages_; }
  TrainingProbe& probe() { return *probe_; }

  // With `paired`, each timed step of `plan` follows a step of `paired`, and paired_delta is the
  // median of the differences: a machine whose speed drifts (other work on a shared CPU, clocks)
  // moves both steps of a pair alike.
  Measured measure(const StagePlan& plan, const StagePlan* paired = nullptr) {
    Measured m;
    std::vector<double> seconds, deltas;
    for (int64_t i = 0; i < options_.warmup + options_.repeats; ++i) {
      double paired_cost = 0;
      if (paired && i >= options_.warmup) {
        set_modes(*paired);
        const ProbeResult b = probe_->measure(options_.shape, /*release_cache=*/false);
        if (b.out_of_memory)
          paired = nullptr;  // no pairs then; the plain median stands
        else
          paired_cost = cost(*paired, b.seconds);
      }
      set_modes(plan);
      const ProbeResult r = probe_->measure(options_.shape, /*release_cache=*/false);
      if (r.out_of_memory) {
        m.probe = r;
        return m;
      }
      if (i < options_.warmup) continue;
      if (seconds.empty() || r.peak_bytes > m.probe.peak_bytes) m.probe = r;
      seconds.push_back(r.seconds);
      if (paired) deltas.push_back(cost(plan, r.seconds) - paired_cost);
    }
    m.seconds = plan_median(seconds);
    m.probe.seconds = m.seconds;
    m.cost = cost(plan, m.seconds);
    m.paired_delta = deltas.empty() ? 0 : plan_median(deltas);
    m.paired = !deltas.empty();
    ++steps_;
    return m;
  }

  int64_t probes() const { return steps_; }

 private:
  void set_modes(const StagePlan& plan) {
    auto& model = probe_->model();
    for (size_t i = 0; i < stages_.size(); ++i) model->set_stage_mode(stages_[i], plan[i]);
  }
  double cost(const StagePlan& plan, double seconds) const {
    return options_.step_cost ? options_.step_cost(plan, seconds) : seconds;
  }

  PlanOptions options_;
  std::vector<std::string> stages_;
  std::unique_ptr<TrainingProbe> probe_;
  int64_t steps_ = 0;
};

nlohmann::json measured_json(const Measured& m, int64_t budget) {
  nlohmann::json j = to_json(m.probe);
  j["fits"] = !m.probe.out_of_memory && m.probe.peak_bytes <= budget;
  j["step_seconds"] = m.seconds;
  j["cost"] = m.cost;
  return j;
}

}  // namespace

int64_t StageCostModel::predict_peak(const StagePlan& plan) const {
  int64_t peak = base_peak_bytes;
  for (size_t i = 0; i < plan.size(); ++i) peak += peak_delta[i][index_of(plan[i])];
  return peak;
}

double StageCostModel::predict_seconds(const StagePlan& plan) const {
  double seconds = base_seconds;
  for (size_t i = 0; i < plan.size(); ++i) seconds += seconds_delta[i][index_of(plan[i])];
  return seconds;
}

std::vector<StagePlan> fastest_fitting_plans(const StageCostModel& model, int64_t budget_bytes,
                                             size_t limit) {
  const size_t n = model.stages();
  TORCH_CHECK(n <= kMaxStages, "fastest_fitting_plans: ", n, " stages, at most ", kMaxStages);
  struct Candidate {
    double seconds;
    int recomputing;
    int64_t peak;
    StagePlan plan;
  };
  auto faster = [](const Candidate& a, const Candidate& b) {
    if (a.seconds != b.seconds) return a.seconds < b.seconds;
    if (a.recomputing != b.recomputing) return a.recomputing < b.recomputing;
    return a.peak < b.peak;
  };
  std::vector<Candidate> best;  // sorted, at most `limit`
  StagePlan plan(n, rev::StackMode::kReversible);
  std::vector<int> digit(n, 0);
  size_t total = 1;
  for (size_t i = 0; i < n; ++i) total *= 3;
  for (size_t k = 0; k < total; ++k) {
    // Counting in base 3: digit i is stage i's mode.
    size_t rest = k;
    bool usable = true;
    for (size_t i = 0; i < n; ++i) {
      digit[i] = static_cast<int>(rest % 3);
      rest /= 3;
      plan[i] = kModes[digit[i]];
      if (!model.unavailable.empty() && model.unavailable[i][digit[i]]) usable = false;
    }
    if (!usable) continue;
    const int64_t peak = model.predict_peak(plan);
    if (peak > budget_bytes) continue;
    Candidate c{model.predict_seconds(plan), recomputing_stages(plan), peak, plan};
    if (best.size() == limit && !faster(c, best.back())) continue;
    best.insert(std::upper_bound(best.begin(), best.end(), c, faster), std::move(c));
    if (best.size() > limit) best.pop_back();
  }
  std::vector<StagePlan> out;
  for (auto& c : best) out.push_back(std::move(c.plan));
  return out;
}

StagePlan least_peak_plan(const StageCostModel& model) {
  // The peak is a sum over stages, so each stage takes its own least delta.
  StagePlan plan(model.stages(), rev::StackMode::kReversible);
  for (size_t i = 0; i < model.stages(); ++i) {
    int best = kReversible;
    for (int m = 0; m < 3; ++m) {
      const bool usable = model.unavailable.empty() || !model.unavailable[i][m];
      if (usable && model.peak_delta[i][m] < model.peak_delta[i][best]) best = m;
    }
    plan[i] = kModes[best];
  }
  return plan;
}

nlohmann::json plan_stage_modes(const nn::UNetConfig& config, const PlanOptions& o) {
  if (o.probe.budget_bytes <= 0) fail("--budget", "a budget is needed to plan for, e.g. 2GiB");
  if (o.repeats < 1) fail("--repeats", "must be at least 1");
  if (o.warmup < 0) fail("--warmup", "must be 0 or more");
  if (o.probe.batch < 1) fail("--batch", "must be at least 1");
  for (const int64_t side : o.shape) {
    if (side < 1 || side % config.size_multiple()) {
      fail("--shape " + std::to_string(side),
           "each size must be a positive multiple of " + std::to_string(config.size_multiple()));
    }
  }
  const size_t n = nn::stage_names(config.levels).size();
  if (n > kMaxStages) {
    fail("--config", std::to_string(n) + " stages; the planner enumerates at most " +
                         std::to_string(kMaxStages) + " (7 levels)");
  }
  const int64_t budget = o.probe.budget_bytes;
  core::configure_cuda_training(o.probe.device);
  PlanProber prober(config, o);
  const auto& stages = prober.stages();

  // 1-3: the baseline, one stage switched at a time, all plain.
  std::map<StagePlan, Measured> whole;  // plans measured as a whole
  const StagePlan all_reversible(n, rev::StackMode::kReversible);
  const StagePlan all_plain(n, rev::StackMode::kPlain);
  const Measured base = prober.measure(all_reversible);
  if (base.probe.out_of_memory) {
    fail("--shape", "even an all-reversible step runs out of device memory at this size");
  }
  whole[all_reversible] = base;
  StageCostModel model;
  model.base_peak_bytes = base.probe.peak_bytes;
  model.base_seconds = base.cost;
  model.peak_delta.assign(n, {0, 0, 0});
  model.seconds_delta.assign(n, {0, 0, 0});
  model.unavailable.assign(n, {false, false, false});
  nlohmann::json switched = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    for (const auto mode : {rev::StackMode::kPlain, rev::StackMode::kCheckpoint}) {
      StagePlan plan = all_reversible;
      plan[i] = mode;
      const Measured m = prober.measure(plan, &all_reversible);
      const int k = index_of(mode);
      if (m.probe.out_of_memory) {
        model.unavailable[i][k] = true;
        switched.push_back(
            {{"stage", stages[i]}, {"mode", rev::to_string(mode)}, {"out_of_memory", true}});
        continue;
      }
      model.peak_delta[i][k] = m.probe.peak_bytes - base.probe.peak_bytes;
      model.seconds_delta[i][k] = m.paired ? m.paired_delta : m.cost - base.cost;
      switched.push_back({{"stage", stages[i]},
                          {"mode", rev::to_string(mode)},
                          {"peak_bytes", m.probe.peak_bytes},
                          {"step_seconds", m.seconds},
                          {"cost", m.cost},
                          {"paired_delta_cost", m.paired_delta}});
    }
  }
  // 4: plain never costs more than a mode that adds a recompute to the same work.
  nlohmann::json clamped = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    auto& d = model.seconds_delta[i];
    const double floor = std::min(d[index_of(rev::StackMode::kCheckpoint)], d[kReversible]);
    if (d[0] > floor) {
      clamped.push_back({{"stage", stages[i]}, {"measured", d[0]}, {"clamped_to", floor}});
      d[0] = floor;
    }
  }
  const Measured plain = prober.measure(all_plain);
  if (!plain.probe.out_of_memory) whole[all_plain] = plain;
  // The model's least-peak plan, measured whole when it is not all reversible (a stage whose
  // checkpoint mode stores less than its reversible mode): what "the smallest budget" names.
  const StagePlan least = least_peak_plan(model);
  if (!whole.count(least)) {
    const Measured m = prober.measure(least);
    if (!m.probe.out_of_memory) whole[least] = m;
  }

  // 5: candidates fastest first; plans measured as a whole count with their measured peak.
  std::vector<StagePlan> candidates = fastest_fitting_plans(model, budget, kCandidates);
  for (const auto& [plan, m] : whole) {
    if (m.probe.peak_bytes <= budget &&
        std::find(candidates.begin(), candidates.end(), plan) == candidates.end()) {
      candidates.push_back(plan);
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](const StagePlan& a, const StagePlan& b) {
                     const double ta = model.predict_seconds(a), tb = model.predict_seconds(b);
                     if (ta != tb) return ta < tb;
                     return recomputing_stages(a) < recomputing_stages(b);
                   });
  nlohmann::json verifications = nlohmann::json::array();
  int64_t verified = 0;
  const StagePlan* chosen = nullptr;
  for (const auto& plan : candidates) {
    auto it = whole.find(plan);
    if (it == whole.end()) {
      if (verified >= o.max_verifications) continue;
      ++verified;
      it = whole.emplace(plan, prober.measure(plan)).first;
      verifications.push_back({{"modes", modes_json(stages, plan)},
                               {"predicted_peak_bytes", model.predict_peak(plan)},
                               {"measured", measured_json(it->second, budget)}});
    }
    if (!it->second.probe.out_of_memory && it->second.probe.peak_bytes <= budget) {
      chosen = &it->first;
      break;
    }
  }

  nlohmann::json j = core::run_info(o.probe.device);
  j["shape"] = {o.shape[0], o.shape[1], o.shape[2]};
  j["batch"] = o.probe.batch;
  j["dtype"] = o.probe.bf16 ? "bf16" : "fp32";
  j["budget_bytes"] = budget;
  j["warmup"] = o.warmup;
  j["repeats"] = o.repeats;
  j["time_source"] = o.step_cost ? "injected cost model" : "measured median step seconds";
  j["all_reversible"] = measured_json(base, budget);
  j["all_plain"] = measured_json(plain, budget);
  j["switched"] = switched;
  j["plain_time_clamped"] = clamped;
  j["model_check"] = {
      {"all_plain_predicted_peak_bytes", model.predict_peak(all_plain)},
      {"all_plain_measured_peak_bytes", plain.probe.out_of_memory ? -1 : plain.probe.peak_bytes},
      {"all_plain_predicted_seconds", model.predict_seconds(all_plain)},
      {"all_plain_measured_cost", plain.cost}};
  j["verifications"] = verifications;
  if (least != all_reversible && whole.count(least)) {
    j["least_peak_plan"] = {{"modes", modes_json(stages, least)},
                            {"predicted_peak_bytes", model.predict_peak(least)},
                            {"measured", measured_json(whole.at(least), budget)}};
  }

  // The smallest budget anything fits: the least measured peak (the model's least-peak plan was
  // measured too).
  int64_t smallest = std::numeric_limits<int64_t>::max();
  StagePlan smallest_plan = all_reversible;
  for (const auto& [plan, m] : whole) {
    if (!m.probe.out_of_memory && m.probe.peak_bytes < smallest) {
      smallest = m.probe.peak_bytes;
      smallest_plan = plan;
    }
  }
  j["smallest_budget_bytes"] = smallest;
  j["smallest_budget_modes"] = modes_json(stages, smallest_plan);
  j["probes"] = prober.probes();

  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    nlohmann::json row = {{"stage", stages[i]}};
    if (chosen) row["mode"] = rev::to_string((*chosen)[i]);
    for (int k = 0; k < 3; ++k) {
      const std::string name = rev::to_string(kModes[k]);
      if (model.unavailable[i][k]) {
        row["peak_delta_bytes"][name] = nullptr;
        row["seconds_delta"][name] = nullptr;
        continue;
      }
      row["peak_delta_bytes"][name] = model.peak_delta[i][k];
      row["seconds_delta"][name] = model.seconds_delta[i][k];
    }
    rows.push_back(row);
  }
  j["stages"] = rows;
  j["fits"] = chosen != nullptr;
  if (!chosen) return j;

  const Measured& m = whole.at(*chosen);
  j["modes"] = modes_json(stages, *chosen);
  j["predicted"] = {{"peak_bytes", model.predict_peak(*chosen)},
                    {"seconds", model.predict_seconds(*chosen)}};
  j["measured"] = measured_json(m, budget);
  nlohmann::json ratios = nlohmann::json::object();
  if (!plain.probe.out_of_memory && plain.seconds > 0) {
    ratios["plan_over_plain_time"] = m.seconds / plain.seconds;
    ratios["reversible_over_plain_time"] = base.seconds / plain.seconds;
    ratios["plan_over_plain_peak"] =
        static_cast<double>(m.probe.peak_bytes) / static_cast<double>(plain.probe.peak_bytes);
  }
  ratios["plan_over_reversible_time"] = m.seconds / base.seconds;
  ratios["plan_over_reversible_cost_model"] =
      model.predict_seconds(*chosen) / model.predict_seconds(all_reversible);
  j["ratios"] = ratios;
  if (o.probe.device.is_cpu()) {
    j["time_note"] = "CPU step times on a shared machine are noisy; bytes are exact";
  }
  return j;
}

StagePlan plan_modes(const nlohmann::json& plan, const nn::UNetConfig& config,
                     const std::string& source) {
  if (!plan.value("fits", false) || !plan.contains("modes")) {
    fail(source, "the plan does not fit its budget");
  }
  const auto& modes = plan["modes"];
  const std::vector<std::string> stages = nn::stage_names(config.levels);
  if (modes.size() != stages.size()) {
    fail(source, "the plan has " + std::to_string(modes.size()) + " stages, the config " +
                     std::to_string(stages.size()));
  }
  StagePlan out;
  for (const auto& stage : stages) {
    if (!modes.contains(stage) || !modes[stage].is_string()) {
      fail(source, "the plan names no mode for stage " + stage);
    }
    out.push_back(rev::parse_stack_mode(modes[stage].get<std::string>()));
  }
  return out;
}

nn::UNetConfig with_plan(nn::UNetConfig config, const StagePlan& plan) {
  const std::vector<std::string> stages = nn::stage_names(config.levels);
  TORCH_CHECK(plan.size() == stages.size(), "with_plan: ", plan.size(), " modes for ",
              stages.size(), " stages");
  std::array<int, 3> count{0, 0, 0};
  for (const auto m : plan) ++count[index_of(m)];
  // The most common mode (reversible first on ties) becomes the config's mode.
  int common = kReversible;
  for (int k = 0; k < 3; ++k) {
    if (count[k] > count[common]) common = k;
  }
  config.mode = kModes[common];
  config.stage_modes.clear();
  for (size_t i = 0; i < stages.size(); ++i) {
    if (plan[i] != config.mode) config.stage_modes[stages[i]] = plan[i];
  }
  return config;
}

nlohmann::json plan_key(const nn::UNetConfig& config, const PlanOptions& o) {
  nn::UNetConfig c = config;
  c.mode = rev::StackMode::kReversible;
  c.stage_modes.clear();
  c.notes.clear();
  const nlohmann::json info = core::run_info(o.probe.device);
  return {{"config", nn::to_json(c)}, {"shape", {o.shape[0], o.shape[1], o.shape[2]}},
          {"batch", o.probe.batch},   {"dtype", o.probe.bf16 ? "bf16" : "fp32"},
          {"device", info["device"]}, {"libtorch", info["libtorch"]}};
}

nlohmann::json cached_or_new_plan(const nn::UNetConfig& config, const PlanOptions& o,
                                  const std::string& path, std::ostream& log) {
  const nlohmann::json key = plan_key(config, o);
  const std::string budget = core::format_bytes(o.probe.budget_bytes);
  if (std::filesystem::exists(path)) {
    const nlohmann::json cached = core::read_json_file(path);
    const bool fits = cached.value("fits", false) && cached.contains("measured");
    const int64_t peak = fits ? cached["measured"]["peak_bytes"].get<int64_t>() : -1;
    if (!cached.contains("key") || cached["key"] != key) {
      std::string what;
      if (cached.contains("key")) {
        for (const auto& [name, value] : key.items()) {
          if (!cached["key"].contains(name) || cached["key"][name] != value) {
            what += (what.empty() ? "" : ", ") + name;
          }
        }
      }
      log << "plan: " << path << " was made for another "
          << (what.empty() ? std::string("setup") : what) << "; re-planning for " << budget << "\n";
    } else if (!fits || peak > o.probe.budget_bytes) {
      log << "plan: " << path << " no longer fits: its step measured "
          << (fits ? core::format_bytes(peak) : std::string("over its own budget"))
          << ", the budget is " << budget << "; re-planning\n";
    } else {
      log << "plan: reusing " << path << " (measured peak " << core::format_bytes(peak)
          << " within " << budget << ")\n";
      return cached;
    }
  } else {
    log << "plan: measuring per-stage modes for " << budget << " (" << path << ")\n";
  }
  nlohmann::json plan = plan_stage_modes(config, o);
  plan["key"] = key;
  core::write_json_atomically(path, plan);
  return plan;
}

std::string plan_table(const nlohmann::json& j) {
  std::ostringstream out;
  const auto& shape = j["shape"];
  out << "plan for " << j.value("config", std::string("the config")) << " at " << shape[0] << "x"
      << shape[1] << "x" << shape[2] << ", batch " << j["batch"] << ", "
      << j["dtype"].get<std::string>() << ", " << j["device"].get<std::string>() << "; budget "
      << core::format_bytes(j["budget_bytes"].get<int64_t>()) << "\n";
  const bool injected = j["time_source"] != "measured median step seconds";
  out << "per stage: peak and step-time change against all reversible when only that stage "
         "switches (measured; * = the plan)"
      << (injected ? "; times: the injected cost model" : "") << "\n";
  out << plan_pad("stage", 7) << plan_pad("mode", 12);
  for (const char* m : {"plain", "checkpoint", "reversible"}) {
    out << plan_pad(std::string(m) + " MiB", 16) << plan_pad("ms", 9);
  }
  out << "\n";
  for (const auto& row : j["stages"]) {
    const std::string chosen = row.value("mode", std::string("-"));
    out << plan_pad(row["stage"].get<std::string>(), 7) << plan_pad(chosen, 12);
    for (const char* m : {"plain", "checkpoint", "reversible"}) {
      const auto& b = row["peak_delta_bytes"][m];
      const auto& t = row["seconds_delta"][m];
      const std::string mark = chosen == m ? "*" : "";
      out << plan_pad(b.is_null() ? "oom" : plan_signed_mib(b.get<double>()) + mark, 16)
          << plan_pad(t.is_null() ? "-" : plan_ms(t.get<double>()), 9);
    }
    out << "\n";
  }
  const auto& rev = j["all_reversible"];
  const auto& plain = j["all_plain"];
  out << "all reversible: peak " << plan_mib(rev["peak_bytes"].get<double>()) << " MiB, step "
      << plan_ms(rev["step_seconds"].get<double>()) << " ms; all plain: ";
  if (plain["out_of_memory"].get<bool>()) {
    out << "out of device memory\n";
  } else {
    out << "peak " << plan_mib(plain["peak_bytes"].get<double>()) << " MiB (model "
        << plan_mib(j["model_check"]["all_plain_predicted_peak_bytes"].get<double>()) << "), step "
        << plan_ms(plain["step_seconds"].get<double>()) << " ms\n";
  }
  if (!j["fits"].get<bool>()) {
    out << "does not fit: no plan's step stays within "
        << core::format_bytes(j["budget_bytes"].get<int64_t>())
        << "; the smallest budget that fits is "
        << core::format_bytes(j["smallest_budget_bytes"].get<int64_t>()) << " ("
        << j["smallest_budget_bytes"].get<int64_t>() << " bytes)\n";
    return out.str();
  }
  out << plan_pad("", 12) << plan_pad("predicted", 14) << "measured (one real training step)\n";
  out << plan_pad("peak MiB", 12)
      << plan_pad(plan_mib(j["predicted"]["peak_bytes"].get<double>()), 14)
      << plan_mib(j["measured"]["peak_bytes"].get<double>()) << "\n";
  out << plan_pad(injected ? "cost" : "step ms", 12)
      << plan_pad(injected ? std::to_string(j["predicted"]["seconds"].get<double>())
                           : plan_ms(j["predicted"]["seconds"].get<double>()),
                  14)
      << (injected ? std::to_string(j["measured"]["cost"].get<double>())
                   : plan_ms(j["measured"]["step_seconds"].get<double>()))
      << "\n";
  const auto& r = j["ratios"];
  if (r.contains("plan_over_plain_time")) {
    char buf[160];
    std::snprintf(
        buf, sizeof(buf), "step time: plan %.2fx all plain, all reversible %.2fx all plain%s\n",
        r["plan_over_plain_time"].get<double>(), r["reversible_over_plain_time"].get<double>(),
        j.contains("time_note") ? " (CPU: noisy)" : "");
    out << buf;
  }
  return out.str();
}

}  // namespace revunet::bench

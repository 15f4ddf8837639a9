// revunet predict: label maps for BraTS cases from a trained model. Each case is preprocessed as
// in training (crop box kept), predicted with the sliding window, post-processed into regions,
// painted as labels in the case's convention, pasted back into the original grid and written
// atomically with the case's own geometry as OUT/<id>.nii.gz.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
#include "revunet/cli/pipeline.h"
#include "revunet/core/atomic_file.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/data/nifti.h"
#include "revunet/data/regions.h"
#include "revunet/infer/postprocess.h"

namespace revunet::cli {

namespace fs = std::filesystem;

namespace {

struct PredictFlags {
  std::string model, in, out, ids, device = "cpu", json;
  double overlap = 0.5, threshold = 0.5;
  int64_t min_et_voxels = 0, threads = 0;
  bool mirror = false, overwrite = false;
};

int run_predict(const PredictFlags& flags) {
  const c10::Device device = core::parse_device(flags.device);
  apply_threads(flags.threads);
  infer::SlidingWindowOptions window;
  window.overlap = flags.overlap;
  window.mirror = flags.mirror;
  window.device = device;
  infer::PostprocessOptions post;
  post.threshold = flags.threshold;
  post.min_enhancing_voxels = flags.min_et_voxels;

  const std::string& out = flags.out;
  prepare_output_folder("--out", out);  // a file or a read-only folder: refused before any reading
  const auto cases = find_cases(flags.in, flags.ids);
  // Temporaries of our own outputs left by a killed run (a live run's are kept).
  std::set<std::string> outputs;
  for (const auto& files : cases) outputs.insert(files.id + ".nii.gz");
  const int stale = core::remove_stale_temporaries(
      out, [&](const std::string& name) { return outputs.count(name) > 0; });
  if (stale > 0) {
    std::cout << "removed " << stale << " temporary file" << (stale == 1 ? "" : "s") << " left in "
              << out << " by a killed run\n";
  }
  nn::LoadedModel loaded = load_any_model(flags.model, device);
  if (loaded.config.patch.size() != 3) fail(flags.model, "config has no 3-D patch");
  for (int d = 0; d < 3; ++d) window.window[d] = loaded.config.patch[d];

  int64_t written = 0, skipped = 0, failed = 0;
  const auto start = std::chrono::steady_clock::now();
  nlohmann::json timings = core::run_info(device);
  timings["model"] = flags.model;
  timings["overlap"] = window.overlap;
  timings["mirror"] = window.mirror;
  timings["cases"] = nlohmann::json::array();
  auto predict_case = [&](const data::CaseFiles& files, const std::string& path) {
    const auto case_start = std::chrono::steady_clock::now();
    data::Case original;
    const data::PreprocessedCase c = preprocess_files(files, &original);
    const double read_seconds = seconds_since(case_start);
    const auto network_start = std::chrono::steady_clock::now();
    const torch::Tensor probabilities = predict_probabilities(loaded.model, c.image, window);
    const double network_seconds = seconds_since(network_start);
    const torch::Tensor regions = infer::postprocess(probabilities, post);
    const torch::Tensor labels = data::regions_to_labels(regions, original.convention);
    const torch::Tensor full = data::paste_from_box(labels, c.box, c.original_shape, 0);
    data::write_label_map(path, full, original.reference);  // temporary file + rename
    ++written;
    const double total_seconds = seconds_since(case_start);
    timings["cases"].push_back({{"id", files.id},
                                {"original_shape", c.original_shape},
                                {"network_shape", c.image.sizes().slice(1).vec()},
                                {"read_seconds", read_seconds},
                                {"network_seconds", network_seconds},
                                {"total_seconds", total_seconds}});
    std::cout << files.id << ": " << path << " in " << format_seconds(total_seconds) << " (network "
              << format_seconds(network_seconds) << ")" << std::endl;
  };
  for (const auto& files : cases) {
    const std::string path = out + "/" + files.id + ".nii.gz";
    if (fs::exists(path) && !flags.overwrite) {
      // Only a file that reads back whole counts as done (a truncated one is predicted again).
      std::string unreadable;
      try {
        data::read_nifti(path);
      } catch (const Error& e) {
        unreadable = e.what();
      }
      if (unreadable.empty()) {
        std::cout << files.id << ": " << path << " exists, skipped (--overwrite replaces it)\n";
        ++skipped;
        continue;
      }
      std::cout << files.id << ": " << unreadable << "; predicting it again" << std::endl;
    }
    // A bad case is reported on its own line and the others are still predicted.
    try {
      predict_case(files, path);
    } catch (const Error& e) {
      std::cerr << files.id << ": FAILED: " << e.what() << std::endl;
      ++failed;
    } catch (const c10::Error& e) {
      std::cerr << files.id << ": FAILED: " << e.what_without_backtrace() << std::endl;
      ++failed;
    }
  }
  std::cout << "predicted " << written << " cases (" << skipped << " skipped, " << failed
            << " failed) in " << format_seconds(seconds_since(start)) << "\n";
  if (!flags.json.empty()) {
    timings["seconds"] = seconds_since(start);
    core::write_json_atomically(flags.json, timings);
    std::cout << "wrote " << flags.json << "\n";
  }
  if (failed > 0) {
    fail("--in", std::to_string(failed) + " of " + std::to_string(cases.size()) + " case" +
                     (cases.size() == 1 ? "" : "s") +
                     " failed (each named above); the others were "
                     "predicted");
  }
  return 0;
}

}  // namespace

Runner add_predict_command(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  PredictFlags& f = *flags;
  app.footer(
      "Predicts label maps (OUT/<id>.nii.gz, the input's geometry and label convention) for a "
      "folder of BraTS cases or one case folder. --model takes RUNDIR/model.pt or a trainer "
      "checkpoint (last.pt, best.pt).");
  app.add_option("--model", f.model, "model file (RUNDIR/model.pt) or checkpoint")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--in", f.in, "folder of cases, or one case's folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--out", f.out, "output folder")->required();
  app.add_option("--ids", f.ids, "only these case ids (comma-separated)");
  add_device_flag(app, f.device);
  app.add_option("--overlap", f.overlap, "sliding-window overlap")
      ->capture_default_str()
      ->check(in_range(0, 1, "[)"));
  app.add_option("--threshold", f.threshold, "probability threshold of each region")
      ->capture_default_str()
      ->check(in_range(0, 1, "()"));
  app.add_option("--min-et-voxels", f.min_et_voxels,
                 "fewer predicted ET voxels than this become necrosis (0 = off)")
      ->capture_default_str()
      ->check(at_least(0));
  add_threads_flag(app, f.threads);
  app.add_flag("--mirror", f.mirror, "mirroring test-time augmentation (8x slower)");
  app.add_flag("--overwrite", f.overwrite, "replace existing outputs (default: skip them)");
  app.add_option("--json", f.json, "write per-case timings here (JSON)");
  return [flags] { return run_predict(*flags); };
}

}  // namespace revunet::cli

// Glue shared by train, predict and demo: finding cases, loading + preprocessing them (through the
// on-disk cache when training), loading a model from a model file or a training checkpoint, and
// whole-case prediction with the sliding window.
#pragma once

#include <c10/core/Device.h>

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "revunet/data/brats.h"
#include "revunet/data/case_cache.h"
#include "revunet/data/preprocess.h"
#include "revunet/infer/sliding_window.h"
#include "revunet/nn/model_io.h"

namespace revunet::cli {

// Cases under `path`: a folder of cases, or one case's folder. `ids` (comma-separated, may be
// empty) keeps only those ids; an unknown id is an error.
std::vector<data::CaseFiles> find_cases(const std::string& path, const std::string& ids = "");

// Makes the folder `dir` that `flag` names (when missing) and checks that a file can be created in
// it, before any data is read: one-line revunet::Error naming the flag when `dir` is a file, cannot
// be created or is read-only.
void prepare_output_folder(const std::string& flag, const std::string& dir);

// The cache key of a case: every source file's path, size and modification time.
std::string source_key(const data::CaseFiles& files);

// Loads, converts labels to regions (when the case has a mask) and preprocesses one case.
data::PreprocessedCase preprocess_files(const data::CaseFiles& files, data::Case* loaded = nullptr);

// The same through `cache` (built and written on a miss).
data::PreprocessedCase cached_case(const data::CaseCache& cache, const data::CaseFiles& files);

// A model file written by nn::save_model (RUNDIR/model.pt) or a trainer checkpoint (last.pt,
// best.pt: recognised by their magic bytes). Throws revunet::Error naming the file.
nn::LoadedModel load_any_model(const std::string& path, c10::Device device);

// Sigmoid probabilities {3, x, y, z} (CPU) of a preprocessed image {4, x, y, z}; the model runs in
// eval mode without gradients. The window is the config's patch.
torch::Tensor predict_probabilities(nn::UNet& model, const torch::Tensor& image,
                                    const infer::SlidingWindowOptions& options);

// Dice of two 0/1 masks with BraTS's convention: both empty scores 1.
double dice(const torch::Tensor& pred, const torch::Tensor& ref);

// "12.3 s", "4 min 05 s"
std::string format_seconds(double seconds);

// Wall-clock seconds since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace revunet::cli

// Synthetic BraTS-like cases: a brain (procedural, or the real Colin27 template deformed per case)
// with a tumour made of a necrotic core, an enhancing rim and oedema, rendered in four MRI
// contrasts with texture, bias field and noise. Deterministic per seed; no global RNG state.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "revunet/data/brats.h"

namespace revunet::data {

enum class Anatomy { kProcedural, kColin27 };

Anatomy parse_anatomy(const std::string& text, const std::string& what = "--anatomy");

struct SynthOptions {
  std::array<int64_t, 3> shape{0, 0, 0};  // 0 = default_canvas(spacing)
  double spacing = 1.0;                   // mm, isotropic
  uint64_t seed = 0;
  Anatomy anatomy = Anatomy::kProcedural;
  LabelConvention convention = LabelConvention::kBraTS2021;
  std::string colin27_dir = "/usr/share/mricron/templates";  // ch2bet.nii.gz (Debian mricron-data)
};

// BraTS's 240x240x155 mm canvas at `spacing`: round(240/s) x round(240/s) x round(155/s).
std::array<int64_t, 3> default_canvas(double spacing);

std::string synthetic_case_id(int64_t index);  // "Synth_000"

struct SynthCase {
  std::string id;
  torch::Tensor image;  // float32 {4, X, Y, Z}, integer-valued, 0 outside the brain
  torch::Tensor label;  // int64 {X, Y, Z} in the options' convention
  torch::Tensor brain;  // bool {X, Y, Z}
  std::array<double, 3> spacing{1, 1, 1};
};

// The Colin27 brain as tissue memberships on its own 1 mm grid.
struct BrainTemplate {
  torch::Tensor tissues;  // float32 {3, X, Y, Z}: CSF, GM, WM memberships (sum 1 in the brain)
  torch::Tensor brain;    // float32 {X, Y, Z}: 0/1 mask
  std::array<double, 3> spacing{1, 1, 1};
};

// Reads <dir>/ch2bet.nii.gz and derives memberships from its T1 intensities (3-class k-means with
// Gaussian soft assignment). Throws revunet::Error with the apt-get line when the file is missing.
BrainTemplate load_colin27(const std::string& dir);

class SyntheticGenerator {
 public:
  explicit SyntheticGenerator(SynthOptions options);  // loads Colin27 once when asked for
  const SynthOptions& options() const { return options_; }
  std::array<int64_t, 3> shape() const { return shape_; }
  // Case `index` depends only on (seed, index, options).
  SynthCase make_case(int64_t index) const;

 private:
  SynthOptions options_;
  std::array<int64_t, 3> shape_;
  std::shared_ptr<const BrainTemplate> colin27_;
};

// Writes cases 0..count-1 as <out>/<id>/<id>_t1.nii.gz ... (_seg; 2023: -t1n ... -seg), int16
// images and a uint8 mask with the spacing in the header, plus <out>/synth.json describing them.
// Returns the case folders.
std::vector<std::string> write_synthetic_dataset(const std::string& out_dir, int64_t count,
                                                 const SynthOptions& options);

}  // namespace revunet::data

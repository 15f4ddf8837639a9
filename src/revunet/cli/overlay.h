// A PNG of one axial slice through the tumour: FLAIR in grey with the reference regions coloured
// on the left and the predicted ones on the right (oedema green, necrosis red, enhancing yellow).
#pragma once

#include <torch/types.h>

#include <string>

namespace revunet::cli {

// flair {X, Y, Z}; regions {3, X, Y, Z} (WT, TC, ET; any 0/1 dtype). The slice is the one with the
// most reference WT (the prediction's if the reference has none). Returns the slice index.
int64_t write_overlay(const std::string& path, const torch::Tensor& flair,
                      const torch::Tensor& reference, const torch::Tensor& prediction,
                      const std::string& title);

}  // namespace revunet::cli

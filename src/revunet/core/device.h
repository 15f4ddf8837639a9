// Device choice from a user's string, and what to record about it.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace revunet::core {

// "cpu", "cuda" or "cuda:N". Throws revunet::Error (naming the option) when CUDA is asked for but
// this build or machine has none.
c10::Device parse_device(const std::string& text);

// "cpu (2 threads)" or the CUDA device's product name.
std::string describe_device(c10::Device device);

// For training on CUDA: cuDNN autotuning on (patch shapes are fixed, as in nnU-Net and MONAI) and
// TF32 convolutions off. A reversible backward rebuilds each input from its output; with TF32 the
// rebuilt inputs drift (measured: 1.7e-2 max abs error at 8 couplings against 1.5e-5 without,
// docs/gpu.md), and the gradients with them. bf16 autocast is unaffected. No-op on CPU.
void configure_cuda_training(c10::Device device);

// Waits for the work queued on `device` (a no-op on CPU): for timings.
void synchronize(c10::Device device);

// Seeds LibTorch's CPU and CUDA generators. Seeds are always passed explicitly.
void seed_everything(uint64_t seed);

}  // namespace revunet::core

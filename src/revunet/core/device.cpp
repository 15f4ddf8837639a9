#include "revunet/core/device.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/utils.h>

#include "revunet/core/compat.h"
#include "revunet/core/error.h"

namespace revunet::core {

c10::Device parse_device(const std::string& text) {
  if (text == "cpu") return c10::kCPU;
  if (text.rfind("cuda", 0) == 0) {
    if (!compat::cuda_available()) {
      fail("--device " + text, REVUNET_WITH_CUDA
                                   ? "no CUDA device is visible on this machine"
                                   : "this build's LibTorch has no CUDA; rebuild against a CUDA "
                                     "LibTorch (see README, 'GPU build')");
    }
    try {
      c10::Device device(text);
      return device.has_index() ? device : c10::Device(c10::kCUDA, 0);
    } catch (const c10::Error&) {
      fail("--device " + text, "expected cpu, cuda or cuda:N");
    }
  }
  fail("--device " + text, "expected cpu, cuda or cuda:N");
}

std::string describe_device(c10::Device device) {
  if (device.is_cuda()) return compat::cuda_device_name(device.has_index() ? device.index() : 0);
  return "cpu (" + std::to_string(at::get_num_threads()) + " threads)";
}

void configure_cuda_training(c10::Device device) {
  if (!device.is_cuda()) return;
  at::globalContext().setBenchmarkCuDNN(true);
  at::globalContext().setAllowTF32CuDNN(false);
}

void synchronize(c10::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
  if (compat::cuda_available()) torch::cuda::manual_seed_all(seed);
}

}  // namespace revunet::core

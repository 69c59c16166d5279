// Catch2's main for the emulated-device tests (tests/emu) run on a real CUDA device
// (test_device_gpu, label gpu): the same cases — every op, a whole ModelMix step, checkpoints
// across devices — against the CPU. Without a usable device the whole binary is one visible
// skip (CTest's SKIP_REGULAR_EXPRESSION).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <iostream>

#include "modelmix/autograd/tape.hpp"
#include "modelmix/cuda/runtime.hpp"

int main(int argc, char** argv) {
  const modelmix::cuda::availability device = modelmix::cuda::device_available();
  if (!device.available) {
    std::cout << "MODELMIX_SKIP: no CUDA device: " << device.reason << std::endl;
    return 0;
  }
  std::cout << "device: " << device.device_name << std::endl;
  // As in catch_main.cpp: slots an op must write first start as NaN.
  modelmix::autograd::poison_assigned_gradients() = true;
  return Catch::Session().run(argc, argv);
}

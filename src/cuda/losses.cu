// The losses of ops/cuda/losses.hpp on the GPU: the shared launch code (losses_launch.inl)
// over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "losses_launch.inl"

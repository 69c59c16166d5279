// The fused mixed convolution of ops/cuda/conv2d.hpp on the GPU: the shared launch code
// (mixed_conv2d_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "mixed_conv2d_launch.inl"

// ops::softmax_channels of ops/cuda/softmax.hpp on the GPU: the shared launch code
// (softmax_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "softmax_launch.inl"

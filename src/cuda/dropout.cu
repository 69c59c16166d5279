// ops::dropout of ops/cuda/dropout.hpp on the GPU: the shared launch code (dropout_launch.inl)
// over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "dropout_launch.inl"

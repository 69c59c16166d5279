// 2×2 max pooling of ops/cuda/pooling.hpp on the GPU: the shared launch code
// (pooling_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "pooling_launch.inl"

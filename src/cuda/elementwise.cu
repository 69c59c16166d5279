// The elementwise ops and reductions of ops/cuda/elementwise.hpp on the GPU: the shared launch
// code (elementwise_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "elementwise_launch.inl"

// ops::rotate, ops::rotate_planes and ops::flip of ops/cuda/geometry.hpp on the GPU: the shared
// launch code (geometry_launch.inl) over ops/cuda/launch.cuh's functor kernels.
#include "modelmix/ops/cuda/launch.cuh"

#include "geometry_launch.inl"

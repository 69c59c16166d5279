#pragma once
// Build-wide macros. Functions that must run on both host and device (index math, the
// lerp, epilogues) carry MODELMIX_HOST_DEVICE so the CPU tests exercise the same code the
// CUDA kernels use.
#if defined(__CUDACC__)
#define MODELMIX_HOST_DEVICE __host__ __device__
#else
#define MODELMIX_HOST_DEVICE
#endif

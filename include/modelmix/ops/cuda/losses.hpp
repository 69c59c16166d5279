#pragma once
// The losses of losses/ (one_hot, pce, dice, cosine_consistency / cosine_invariance) and
// ops::cosine_similarity on a CUDA device, as the g++-compiled core calls them: float launches
// of the kernels in ops/cuda/losses.cuh (src/cuda/losses.cu; the emulated device in the tests).
// Same contracts and arithmetic as ops/cpu/losses.hpp and ops/cpu/cosine_similarity.hpp.
//
// The scalars the CPU keeps in host doubles (Σ's, the loss, Dice's per-class A and B, the
// per-group norms) live here in a small device buffer of doubles, `stats`, that the forward
// writes and the backward reads; the loss value itself is written by a kernel into a
// one-element device float, so a step's loss never visits the host. Sums are fixed-order
// (strided double partials per thread, then ops/cuda/block_reduce.cuh): reproducible run to
// run, equal to the CPU's OpenMP reductions up to double round-off. Layouts of `stats`:
//
//   pce                 [2]           loss, Σy
//   dice (global)       [2]           A = 2Σp·y + s, B = Σp + Σy + s
//   dice (scribbled)    [3·C + 1]     A_c, B_c (−1: class absent), Y_c, K (present classes)
//   group cosines       [3·groups]    ‖a_g‖², ‖b_g‖², cos_g
//   cosine_similarity   [5·rows]      per row: y, D, ‖a‖², ‖b‖², clamped (0 or 1)
//
// Gradient pointers may be null (that input needs no gradient); gradients are added (+=).
// Pointers are device memory; work is queued on the calling thread's cuda::context stream.
#include <cstdint>

#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

inline constexpr int pce_stats_size = 2;
inline constexpr int dice_global_stats_size = 2;
inline index_t dice_scribbled_stats_size(index_t classes) { return 3 * classes + 1; }
inline constexpr int group_cosine_fields = 3;
inline constexpr int cosine_row_fields = 5;

// y[b, c, i] = (labels[b, i] == c) for every class c (every element of y is written; an
// ignored pixel is the all-zero vector), labels [n, plane], y [n, classes, plane].
void one_hot(const std::uint8_t* labels, float* y, index_t n, index_t plane, int classes, int ignore_value);
// first_bad[0] (device int) = the smallest flat index b·plane + i whose label is neither a
// class nor ignore_value, −1 when every label is valid (cpu::one_hot's return value).
void one_hot_first_invalid(const std::uint8_t* labels, index_t n, index_t plane, int classes, int ignore_value,
                           int* first_bad);

// stats = {loss, Σy}, loss[0] = float(Σy > 0 ? −Σ y·log(p + ε) / Σy : 0) over the y ≠ 0 elements.
void pce(const float* p, const float* y, index_t count, double eps, double* stats, float* loss);
// Nothing when Σy ≤ 0; else s = g[0] / Σy, ∂p += −s·y / (p + ε) where y ≠ 0, ∂y += s·(−log(p + ε) − loss).
void pce_backward(const float* g, const float* p, const float* y, float* gp, float* gy, index_t count, double eps,
                  const double* stats);

// stats = {A, B}, loss[0] = float(B > 0 ? 1 − A/B : 0).
void dice_global(const float* p, const float* y, index_t count, double smooth, double* stats, float* loss);
// Nothing when B ≤ 0; else s = g[0] / B², ∂p += −s·(2·y·B − A), ∂y += −s·(2·p·B − A).
void dice_global_backward(const float* g, const float* p, const float* y, float* gp, float* gy, index_t count,
                          const double* stats);

// mask [n, plane] (device bytes) = Σ_c y > 0; per class the masked sums give A_c, B_c, Y_c;
// loss[0] = float(K > 0 ? 1 − (1/K) Σ_{c: Y_c > 0} A_c / B_c : 0), the ratios added in class order.
void dice_scribbled(const float* p, const float* y, index_t n, index_t classes, index_t plane, double smooth,
                    std::uint8_t* mask, double* stats, float* loss);
// For each class with B_c ≥ 0, on masked pixels: s = g[0] / (K·B_c²), ∂p_c += −s·(2·y_c·B_c − A_c),
// ∂y_c += −s·(2·p_c·B_c − A_c). Nothing when K = 0.
void dice_scribbled_backward(const float* g, const float* p, const float* y, const std::uint8_t* mask, float* gp,
                             float* gy, index_t n, index_t classes, index_t plane, const double* stats);

// Per group of len elements: ‖a‖², ‖b‖², cos = ⟨a, b⟩ / max(‖a‖‖b‖, eps) into stats;
// loss[0] = float(offset − Σ_g cos_g / groups).
void group_cosines(const float* a, const float* b, index_t groups, index_t len, double eps, double offset,
                   double* stats, float* loss);
// The backward of offset − mean_g cos_g (cpu::group_cosines_backward).
void group_cosines_backward(const float* g, const float* a, const float* b, float* ga, float* gb, index_t groups,
                            index_t len, double eps, const double* stats);

// y[u] = a_u·b_u / max(‖a_u‖·‖b_u‖, e) per row of len elements; stats per row as above.
void cosine_similarity(const float* a, const float* b, float* y, double* stats, index_t rows, index_t len, double e);
// ∂self_u += g_u·(other_u/D − [unclamped]·y·self_u/‖self_u‖²) (cpu::cosine_similarity_backward).
void cosine_similarity_backward(const float* g, const float* self, const float* other, float* d,
                                const double* stats, index_t rows, index_t len, bool self_is_a);

}  // namespace modelmix::ops::cuda

// The float launches of ops/cuda/losses.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/losses.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/losses.cuh"

namespace modelmix::ops::cuda {

void one_hot(const std::uint8_t* labels, float* y, index_t n, index_t plane, int classes, int ignore_value) {
  kernel_count("one_hot", {n, classes, plane});  // y is indexed with int
  const int pixels = kernel_count("one_hot", {n, plane});
  if (pixels == 0) return;
  launch<no_shared>("one_hot", elementwise_grid(pixels), {elementwise_threads, 1, 1},
                    one_hot_kernel{labels, y, int(n), int(plane), classes, ignore_value});
}

void one_hot_first_invalid(const std::uint8_t* labels, index_t n, index_t plane, int classes, int ignore_value,
                           int* first_bad) {
  const int pixels = kernel_count("one_hot", {n, plane});
  launch<one_hot_check_kernel::smem>("one_hot_first_invalid", {1, 1, 1}, {loss_threads, 1, 1},
                                     one_hot_check_kernel{labels, pixels, classes, ignore_value, first_bad});
}

void pce(const float* p, const float* y, index_t count, double eps, double* stats, float* loss) {
  launch<pce_kernel::smem>("pce", {1, 1, 1}, {loss_threads, 1, 1},
                           pce_kernel{p, y, kernel_count("pce", {count}), eps, stats, loss});
}

void pce_backward(const float* g, const float* p, const float* y, float* gp, float* gy, index_t count, double eps,
                  const double* stats) {
  const int n = kernel_count("pce_backward", {count});
  if (n == 0 || (!gp && !gy)) return;
  launch<no_shared>("pce_backward", elementwise_grid(n), {elementwise_threads, 1, 1},
                    pce_backward_kernel{g, p, y, gp, gy, n, eps, stats});
}

void dice_global(const float* p, const float* y, index_t count, double smooth, double* stats, float* loss) {
  launch<dice_global_kernel::smem>("dice_global", {1, 1, 1}, {loss_threads, 1, 1},
                                   dice_global_kernel{p, y, kernel_count("dice_global", {count}), smooth, stats, loss});
}

void dice_global_backward(const float* g, const float* p, const float* y, float* gp, float* gy, index_t count,
                          const double* stats) {
  const int n = kernel_count("dice_global_backward", {count});
  if (n == 0 || (!gp && !gy)) return;
  launch<no_shared>("dice_global_backward", elementwise_grid(n), {elementwise_threads, 1, 1},
                    dice_global_backward_kernel{g, p, y, gp, gy, n, stats});
}

void dice_scribbled(const float* p, const float* y, index_t n, index_t classes, index_t plane, double smooth,
                    std::uint8_t* mask, double* stats, float* loss) {
  MODELMIX_REQUIRE(classes > 0, "dice_scribbled: no classes");
  kernel_count("dice_scribbled", {n, classes, plane});
  const int pixels = kernel_count("dice_scribbled", {n, plane});
  if (pixels > 0)
    launch<no_shared>("dice_scribbled_mask", elementwise_grid(pixels), {elementwise_threads, 1, 1},
                      dice_mask_kernel{y, mask, int(n), int(classes), int(plane)});
  launch<dice_class_sums_kernel::smem>(
      "dice_scribbled_sums", {int(classes), 1, 1}, {loss_threads, 1, 1},
      dice_class_sums_kernel{p, y, mask, int(n), int(classes), int(plane), smooth, stats});
  launch<no_shared>("dice_scribbled_loss", {1, 1, 1}, {warp_size, 1, 1},
                    dice_scribbled_loss_kernel{int(classes), stats, loss});
}

void dice_scribbled_backward(const float* g, const float* p, const float* y, const std::uint8_t* mask, float* gp,
                             float* gy, index_t n, index_t classes, index_t plane, const double* stats) {
  const int count = kernel_count("dice_scribbled_backward", {n, classes, plane});
  if (count == 0 || (!gp && !gy)) return;
  launch<no_shared>("dice_scribbled_backward", elementwise_grid(count), {elementwise_threads, 1, 1},
                    dice_scribbled_backward_kernel{g, p, y, mask, gp, gy, int(n), int(classes), int(plane), stats});
}

void group_cosines(const float* a, const float* b, index_t groups, index_t len, double eps, double offset,
                   double* stats, float* loss) {
  MODELMIX_REQUIRE(groups > 0, "group_cosines: no groups");
  kernel_count("group_cosines", {groups, len});
  kernel_count("group_cosines", {groups, group_cosine_fields});
  launch<group_cosines_kernel::smem>("group_cosines", {int(groups), 1, 1}, {loss_threads, 1, 1},
                                     group_cosines_kernel{a, b, int(groups), int(len), eps, stats});
  launch<group_cosines_loss_kernel::smem>("group_cosines_loss", {1, 1, 1}, {loss_threads, 1, 1},
                                          group_cosines_loss_kernel{int(groups), offset, stats, loss});
}

void group_cosines_backward(const float* g, const float* a, const float* b, float* ga, float* gb, index_t groups,
                            index_t len, double eps, const double* stats) {
  const int count = kernel_count("group_cosines_backward", {groups, len});
  if (count == 0 || (!ga && !gb)) return;
  launch<no_shared>("group_cosines_backward", elementwise_grid(count), {elementwise_threads, 1, 1},
                    group_cosines_backward_kernel{g, a, b, ga, gb, int(groups), int(len), eps, stats});
}

void cosine_similarity(const float* a, const float* b, float* y, double* stats, index_t rows, index_t len, double e) {
  kernel_count("cosine_similarity", {rows, len});
  kernel_count("cosine_similarity", {rows, cosine_row_fields});
  if (rows == 0) return;
  launch<cosine_similarity_kernel::smem>("cosine_similarity", {int(rows), 1, 1}, {loss_threads, 1, 1},
                                         cosine_similarity_kernel{a, b, y, stats, int(len), e});
}

void cosine_similarity_backward(const float* g, const float* self, const float* other, float* d,
                                const double* stats, index_t rows, index_t len, bool self_is_a) {
  const int count = kernel_count("cosine_similarity_backward", {rows, len});
  if (count == 0) return;
  launch<no_shared>("cosine_similarity_backward", elementwise_grid(count), {elementwise_threads, 1, 1},
                    cosine_similarity_backward_kernel{g, self, other, d, stats, int(rows), int(len), self_is_a});
}

}  // namespace modelmix::ops::cuda

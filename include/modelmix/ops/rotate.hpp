#pragma once
// In-plane rotation of every H×W plane (the last two axes; NCHW images, [Z, Y, X] volumes,
// label maps of any element type), nearest neighbour, about the plane centre
// (cy, cx) = ((H−1)/2, (W−1)/2).
//
// Positive angles turn the content counter-clockwise as displayed (row 0 at the top), like
// torchvision and scipy.ndimage.rotate. Output pixel (i, j) gathers from the input at
//
//   di = i − cy,  dj = j − cx
//   src_i = cy + sin θ·dj + cos θ·di        (R(−θ)·p in x-right, y-up coordinates)
//   src_j = cx + cos θ·dj − sin θ·di
//
// rounded to the nearest pixel (halves round up); a source outside the plane gives `fill`.
// The sums are evaluated as explicit fma (cpu::rotation_source, shared with the CUDA kernels
// of ops/cuda/geometry.hpp), so the map is the same in every build and on every device.
// Multiples of 90° use exact cos/sin, so 90° on a square plane is exactly np.rot90.
// The gather is linear in x, so backward is the transposed scatter-add:
//   ∂x[src(p)] += g[p] for every p with a source inside (fill pixels have no gradient);
// on a device, a gather per input pixel in the same order (no atomics).
//
// Rotating by θ and then by −θ is only approximately the identity: nearest rounding moves
// some pixels by one, and corners rotated out of the plane come back as `fill`. ModelMix's
// "rotate back" (rot⁻¹ f(rot x)) is exactly this approximate inverse.
#include <cmath>
#include <numbers>
#include <span>
#include <type_traits>
#include <vector>

#include "modelmix/ops/cpu/rotate.hpp"
#include "modelmix/ops/cuda/geometry.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

// cos θ and sin θ of an angle in degrees, exact at multiples of 90°.
struct rotation {
  double c = 1, s = 0;
};

inline rotation rotation_of(double degrees) {
  double turn = std::fmod(degrees, 360.0);
  if (turn < 0) turn += 360.0;
  double c = std::cos(turn * std::numbers::pi / 180.0), s = std::sin(turn * std::numbers::pi / 180.0);
  if (turn == 0.0) c = 1, s = 0;
  if (turn == 90.0) c = 0, s = 1;
  if (turn == 180.0) c = -1, s = 0;
  if (turn == 270.0) c = 0, s = -1;
  return {c, s};
}

// For each output pixel (row-major in the H×W plane), the row-major index of its source
// pixel, or −1 when the source lies outside. One map serves every plane of a tensor. On a
// CUDA device the kernels evaluate the same cpu::rotation_source per pixel instead.
inline std::vector<index_t> rotation_source_map(index_t H, index_t W, rotation r) {
  std::vector<index_t> map(static_cast<std::size_t>(H * W));
  for (index_t i = 0; i < H; ++i)
    for (index_t j = 0; j < W; ++j) map[static_cast<std::size_t>(i * W + j)] = cpu::rotation_source(i, j, H, W, r.c, r.s);
  return map;
}

inline std::vector<index_t> rotation_source_map(index_t H, index_t W, double degrees) {
  return rotation_source_map(H, W, rotation_of(degrees));
}

// One H×W plane, `in` → `out` (distinct buffers of H·W elements each).
template <class T>
void rotate_plane(std::span<const T> in, std::span<T> out, index_t H, index_t W, double degrees,
                  std::type_identity_t<T> fill) {
  MODELMIX_REQUIRE(index_t(in.size()) == H * W && index_t(out.size()) == H * W, "rotate_plane: buffers of ",
                   in.size(), " and ", out.size(), " elements for a ", H, "×", W, " plane");
  const std::vector<index_t> map = rotation_source_map(H, W, degrees);
  for (std::size_t p = 0; p < map.size(); ++p) out[p] = map[p] >= 0 ? in[static_cast<std::size_t>(map[p])] : fill;
}

namespace detail {
// y[plane, q] = x[plane, src(q)] (or fill outside) for every H×W plane (the last two axes) of x.
// On the CPU through the index map, which is returned in *map for a backward; on a CUDA device
// (float) the kernel evaluates the map per pixel.
template <class T>
Tensor<T> rotate_forward(const char* op, const Tensor<T>& x, rotation r, T fill, std::vector<index_t>* map = nullptr) {
  const Shape& s = x.shape();
  const index_t H = s[s.rank() - 2], W = s[s.rank() - 1], HW = H * W, planes = HW == 0 ? 0 : x.numel() / HW;
  const device where = device_of(op, {x});
  Tensor<T> y = Tensor<T>::empty(s, where);
  run_on(
      op, where,
      [&] {
        std::vector<index_t> m = rotation_source_map(H, W, r);
        cpu::gather_planes(x.data(), y.data(), m.data(), planes, HW, fill);
        if (map) *map = std::move(m);
      },
      MODELMIX_CUDA_FLOAT(T, op, cuda::rotate_planes(x.data(), y.data(), planes, H, W, r.c, r.s, fill)));
  return y;
}
}  // namespace detail

// Every H×W plane (last two axes) of a tensor of rank ≥ 2 and any element type, e.g. uint8
// label maps with fill = the 'unlabeled' value. On a CUDA device: float only.
template <class T>
Tensor<T> rotate_planes(const Tensor<T>& x, double degrees, std::type_identity_t<T> fill) {
  MODELMIX_REQUIRE(x.rank() >= 2, "rotate_planes: needs at least two axes (H, W), got shape ", x.shape());
  return detail::rotate_forward("rotate_planes", x, rotation_of(degrees), T(fill));
}

// Backward: on the CPU the map's scatter-add (cpu::gather_planes_backward); on a device a
// gather, each input pixel adding the outputs that read it in the CPU's order.
template <class T>
Var<T> rotate(const Var<T>& x, std::type_identity_t<T> degrees, std::type_identity_t<T> fill = T(0)) {
  Tape<T>& tape = x.tape();
  const Shape& s = x.shape();
  MODELMIX_REQUIRE(s.rank() >= 2, "rotate: needs at least two axes (H, W), got shape ", s);
  const rotation r = rotation_of(double(degrees));
  const index_t H = s[s.rank() - 2], W = s[s.rank() - 1];
  std::vector<index_t> map;  // filled on the CPU only
  Tensor<T> y = detail::rotate_forward("rotate", x.value(), r, T(fill), &map);
  return tape.record("rotate", std::move(y), {x}, [&tape, x, map = std::move(map), r, H, W](const Tensor<T>& g) {
    Tensor<T>* gx = tape.grad_slot(x);
    if (!gx) return;
    const index_t HW = H * W, planes = HW == 0 ? 0 : g.numel() / HW;
    run_on("rotate", g.where(), [&] { cpu::gather_planes_backward(g.data(), gx->data(), map.data(), planes, HW); },
           MODELMIX_CUDA_FLOAT(T, "rotate",
                               cuda::rotate_planes_backward(g.data(), gx->data(), planes, H, W, r.c, r.s)));
  });
}

}  // namespace modelmix::ops

#pragma once
// Mixed 2D convolution on the CPU. fprop and dgrad of stride-1 filters (the U-Net's 3×3 layers)
// take the direct kernel of ops/cpu/conv2d_direct.hpp when rows are at least one vector wide,
// else, given a vector of channels in and out, the narrow one of ops/cpu/conv2d_direct_narrow.hpp;
// their 3×3 wgrad, on the ISAs where it measured faster, the one of ops/cpu/conv2d_direct_wgrad.hpp;
// everything else takes the path below: Eigen GEMMs over im2col bands, OpenMP over (sample, band).
//
//   W = Σ_i c_i·W_i   b = Σ_i c_i·b_i            x [N,C,H,W]  W_i [K,C,R,S]  b_i [K]  y [N,K,P,Q]
//
//   role    GEMM per (sample n, band of output rows)           A operand
//   fprop   y_n[:, band]  = W · col(x_n, band) + b              W  (K × C·R·S)
//   dgrad   dx_n         += col2im(Wᵀ · dy_n[:, band])          Wᵀ
//   wgrad   dW            = Σ_{n, band} dy_n[:, band] · col(x_n, band)ᵀ
//           then, in one pass over dW:  grad_weight_i += c_i·dW,  grad_coeff_i += ⟨dW, W_i⟩
//           (db = Σ dy, split the same way:  grad_bias_i += c_i·db,  grad_coeff_i += ⟨db, b_i⟩)
//
// Mixing is fused: W is formed once per call directly in the K × C·R·S A-operand scratch
// (cache resident), never as a tensor; a plain spec (one term, c = 1) reads W_0 in place.
// A band of output rows keeps its column buffer (C·R·S × rows·Q) near L2 size. A 1×1,
// stride-1, unpadded filter needs no im2col: the input itself is the B operand.
//
// fprop overwrites y; dgrad and wgrad accumulate (+=) into dx and the spec's gradient pointers
// (conv2d_dgrad_assign writes dx).
// Inside the parallel region Eigen runs single-threaded, so threads never nest.
#include <Eigen/Core>
#include <algorithm>
#include <memory>
#include <vector>

#include "modelmix/ops/conv2d_spec.hpp"
#include "modelmix/ops/cpu/conv2d_direct.hpp"
#include "modelmix/ops/cpu/conv2d_direct_narrow.hpp"
#include "modelmix/ops/cpu/conv2d_direct_wgrad.hpp"
#include "modelmix/ops/cpu/im2col.hpp"
#include "modelmix/ops/cpu/mix_gradient.hpp"
#include "modelmix/tensor/eigen_view.hpp"

namespace modelmix::ops::cpu {

namespace detail {

template <class T>
using StridedMap = Eigen::Map<RowMajorMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstStridedMap = Eigen::Map<const RowMajorMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// Elements of one column buffer (64 Ki: 256 KiB of floats, a quarter of a Zen 4 L2). Budgets
// from 16 Ki to 128 Ki measured alike on the U-Net shapes; 256 Ki was a few % slower.
inline constexpr index_t column_budget = index_t(1) << 16;

inline bool is_pointwise(const conv2d_problem& pb) {
  return pb.R == 1 && pb.S == 1 && pb.stride_h == 1 && pb.stride_w == 1 && pb.pad_h == 0 && pb.pad_w == 0;
}

// Threads pay off only past a few microseconds of work; tiny problems (tests, gradcheck,
// deep low-resolution layers) stay on the calling thread.
inline bool worth_threads(const conv2d_problem& pb) { return pb.fprop_flops() >= double(1 << 21); }

// Output rows per band, at least `min_rows` and at least `min_columns` output pixels: a deep
// layer (8×8 pixels, 512 channels) would otherwise get one-row bands, GEMMs 8 columns wide
// (its wgrad ran at 12 GFLOP/s on Zen 5, 10× below the wide layers).
inline constexpr index_t min_columns = 256;
inline index_t band_rows(const conv2d_problem& pb, index_t min_rows) {
  const index_t rows = std::max(column_budget / std::max<index_t>(1, pb.gemm_k() * pb.Q()),
                                (min_columns + pb.Q() - 1) / pb.Q());
  return std::clamp(std::max(rows, min_rows), index_t(1), pb.P());
}

template <class T>
std::unique_ptr<T[]> scratch(index_t n) { return std::unique_ptr<T[]>(new T[static_cast<std::size_t>(n)]); }

// The A operand W = Σ c_i·W_i (and b): W_0 itself for a plain spec, else formed in scratch.
template <class T>
class mixed_filter {
 public:
  mixed_filter(const mixing::spec<T>& spec, bool with_bias) {
    if (spec.is_plain()) {
      weight_ = spec.terms[0].weight;
      bias_ = with_bias ? spec.terms[0].bias : nullptr;
      return;
    }
    weight_storage_ = scratch<T>(spec.weight_numel);
    mixing::weighted_sum(weight_storage_.get(), spec.weight_numel, spec, &mixing::term<T>::weight);
    weight_ = weight_storage_.get();
    if (with_bias && spec.has_bias()) {
      bias_storage_ = scratch<T>(spec.bias_numel);
      mixing::weighted_sum(bias_storage_.get(), spec.bias_numel, spec, &mixing::term<T>::bias);
      bias_ = bias_storage_.get();
    }
  }
  [[nodiscard]] const T* weight() const { return weight_; }
  [[nodiscard]] const T* bias() const { return bias_; }

 private:
  std::unique_ptr<T[]> weight_storage_, bias_storage_;
  const T* weight_ = nullptr;
  const T* bias_ = nullptr;
};

// One (sample, band) unit of work.
struct band {
  index_t n, p0, p1;
};
class band_grid {
 public:
  band_grid(const conv2d_problem& pb, index_t min_rows) : N_(pb.N), P_(pb.P()), rows_(band_rows(pb, min_rows)) {
    bands_ = (P_ + rows_ - 1) / rows_;
  }
  [[nodiscard]] index_t rows() const { return rows_; }
  [[nodiscard]] index_t size() const { return N_ * bands_; }
  [[nodiscard]] band operator[](index_t task) const { return at(task / bands_, task % bands_); }
  // Bands of one parity (0: even, 1: odd): bands two apart never share input rows when a band
  // has at least R rows, so col2im can scatter without races.
  [[nodiscard]] index_t size(int parity) const { return N_ * per_sample(parity); }
  [[nodiscard]] band at(int parity, index_t task) const {
    const index_t m = per_sample(parity);
    return at(task / m, parity + 2 * (task % m));
  }

 private:
  [[nodiscard]] index_t per_sample(int parity) const { return (bands_ + 1 - parity) / 2; }
  [[nodiscard]] band at(index_t n, index_t b) const { return {n, b * rows_, std::min(P_, (b + 1) * rows_)}; }
  index_t N_, P_, rows_, bands_ = 0;
};

// The B operand for a band: the input itself for a pointwise filter, else its im2col.
template <class T>
ConstStridedMap<T> band_operand(const conv2d_problem& pb, const T* x, const band& b, T* col) {
  const index_t HW = pb.H * pb.W, cols = (b.p1 - b.p0) * pb.Q();
  const T* x_n = x + b.n * pb.C * HW;
  if (is_pointwise(pb)) return ConstStridedMap<T>(x_n + b.p0 * pb.Q(), pb.C, cols, Eigen::OuterStride<>(HW));
  im2col(pb, x_n, b.p0, b.p1, col);
  return ConstStridedMap<T>(col, pb.gemm_k(), cols, Eigen::OuterStride<>(cols));
}

// Images smaller than a band's min_columns (the deepest layer: 8×8 pixels, hundreds of
// channels) reduce over so few pixels per sample that per-sample GEMMs mostly re-read and
// re-write dW (each thread keeping a private K·C·R·S copy): 15 GFLOP/s at 8×8 with 512
// channels on Zen 5. There, one GEMM over the whole batch's columns, which Eigen spreads over
// the threads by output blocks (deterministic for a given thread count): 178 GFLOP/s. From
// 16×16 up the bands measured faster (the batch-wide im2col costs more than it saves).
inline constexpr index_t whole_batch_budget = index_t(1) << 23;  // elements of the batch's im2col (32 MiB of floats)
inline bool whole_batch_wgrad(const conv2d_problem& pb) {
  return pb.P() * pb.Q() < min_columns && pb.N * pb.P() * pb.Q() * pb.gemm_k() <= whole_batch_budget;
}

template <class T>
void conv2d_wgrad_whole_batch(const conv2d_problem& pb, const T* x, const T* dy, const mixing::spec<T>& spec) {
  const index_t K = pb.K, CRS = pb.gemm_k(), PQ = pb.P() * pb.Q(), NPQ = pb.N * PQ;
  // [dy_0 dy_1 …] (K × N·PQ) and [col_0 col_1 …] (C·R·S × N·PQ), samples side by side.
  RowMajorMatrix<T> dys(K, NPQ), cols(CRS, NPQ);
  const bool pointwise = is_pointwise(pb);
  auto col = scratch<T>(pointwise ? 0 : CRS * PQ);
  for (index_t n = 0; n < pb.N; ++n) {
    dys.middleCols(n * PQ, PQ) = ConstMatrixMap<T>(dy + n * K * PQ, K, PQ);
    cols.middleCols(n * PQ, PQ) = band_operand(pb, x, band{n, 0, pb.P()}, col.get());
  }
  const RowMajorMatrix<T> dw = dys * cols.transpose();
  const Eigen::Matrix<T, Eigen::Dynamic, 1> db = dys.rowwise().sum();
  split_into_parents(spec, dw.data(), spec.wants_bias_grad() ? db.data() : nullptr);
}

}  // namespace detail

// y = conv(x, Σ c_i·W_i) + Σ c_i·b_i, rectified (max(0, ·)) in the epilogue when `relu`: the
// inference-time conv → BN → ReLU of ops/conv2d_bn_relu.hpp, while each tile is still hot.
template <class T>
void conv2d_fprop(const conv2d_problem& pb, const T* x, T* y, const mixing::spec<T>& spec, bool relu) {
  check_conv2d_spec("cpu::conv2d_fprop", pb, spec, conv2d_role::fprop);
#if MODELMIX_HAS_DIRECT_CONV
  if (direct_conv_applies<T>(pb)) return conv2d_direct_fprop(pb, x, y, spec, detail::worth_threads(pb), relu);
  if (narrow_conv_applies<T>(pb)) return conv2d_narrow_fprop(pb, x, y, spec, detail::worth_threads(pb), relu);
#endif
  const detail::mixed_filter<T> filter(spec, true);
  const index_t K = pb.K, PQ = pb.P() * pb.Q();
  const ConstMatrixMap<T> A(filter.weight(), K, pb.gemm_k());
  const detail::band_grid grid(pb, 1);
  const bool pointwise = detail::is_pointwise(pb);
#pragma omp parallel if (detail::worth_threads(pb))
  {
    auto col = detail::scratch<T>(pointwise ? 0 : pb.gemm_k() * grid.rows() * pb.Q());
#pragma omp for schedule(dynamic)
    for (index_t task = 0; task < grid.size(); ++task) {
      const detail::band b = grid[task];
      const auto B = detail::band_operand(pb, x, b, col.get());
      detail::StridedMap<T> Y(y + b.n * K * PQ + b.p0 * pb.Q(), K, B.cols(), Eigen::OuterStride<>(PQ));
      Y.noalias() = A * B;
      if (filter.bias()) Y.colwise() += detail::ConstVectorMap<T>(filter.bias(), K);  // epilogue, tile still hot
      if (relu) Y = Y.cwiseMax(T(0));
    }
  }
}

template <class T>
void conv2d_fprop(const conv2d_problem& pb, const T* x, T* y, const mixing::spec<T>& spec) {
  conv2d_fprop(pb, x, y, spec, false);
}

template <class T>
void conv2d_dgrad(const conv2d_problem& pb, const T* dy, T* dx, const mixing::spec<T>& spec) {
  check_conv2d_spec("cpu::conv2d_dgrad", pb, spec, conv2d_role::dgrad);
#if MODELMIX_HAS_DIRECT_CONV
  if (direct_conv_applies<T>(pb)) return conv2d_direct_dgrad(pb, dy, dx, spec, detail::worth_threads(pb));
  if (narrow_conv_applies<T>(pb)) return conv2d_narrow_dgrad(pb, dy, dx, spec, detail::worth_threads(pb));
#endif
  const detail::mixed_filter<T> filter(spec, false);
  const index_t K = pb.K, C = pb.C, PQ = pb.P() * pb.Q(), HW = pb.H * pb.W;
  const ConstMatrixMap<T> A(filter.weight(), K, pb.gemm_k());
  const bool pointwise = detail::is_pointwise(pb);
  // Pointwise bands own disjoint pixels; otherwise neighbouring bands overlap by the filter
  // halo, so even and odd bands run in two passes.
  const detail::band_grid grid(pb, pointwise ? 1 : pb.R);
#pragma omp parallel if (detail::worth_threads(pb))
  {
    auto col = detail::scratch<T>(pb.gemm_k() * grid.rows() * pb.Q());
    for (int parity = 0; parity < 2; ++parity) {
#pragma omp for schedule(dynamic)
      for (index_t task = 0; task < grid.size(parity); ++task) {
        const detail::band b = grid.at(parity, task);
        const index_t cols = (b.p1 - b.p0) * pb.Q();
        const detail::ConstStridedMap<T> DY(dy + b.n * K * PQ + b.p0 * pb.Q(), K, cols, Eigen::OuterStride<>(PQ));
        // Into the cache-resident buffer even when pointwise: an accumulating Eigen GEMM straight
        // into the cold dx ran ~12% slower than computing here and adding afterwards.
        MatrixMap<T> dcol(col.get(), pb.gemm_k(), cols);
        dcol.noalias() = A.transpose() * DY;
        if (pointwise)
          detail::StridedMap<T>(dx + b.n * C * HW + b.p0 * pb.Q(), C, cols, Eigen::OuterStride<>(HW)) += dcol;
        else
          col2im_add(pb, col.get(), b.p0, b.p1, dx + b.n * C * HW);
      }
    }
  }
}

// dx = dgrad(dy) instead of +=, for a gradient slot written here first (Tape::grad_target):
// the direct kernel stores its tiles; the GEMM path, which scatters with col2im, zeroes dx first.
template <class T>
void conv2d_dgrad_assign(const conv2d_problem& pb, const T* dy, T* dx, const mixing::spec<T>& spec) {
#if MODELMIX_HAS_DIRECT_CONV
  if (direct_conv_applies<T>(pb)) {
    check_conv2d_spec("cpu::conv2d_dgrad", pb, spec, conv2d_role::dgrad);
    return conv2d_direct_dgrad(pb, dy, dx, spec, detail::worth_threads(pb), true);
  }
  if (narrow_conv_applies<T>(pb)) {
    check_conv2d_spec("cpu::conv2d_dgrad", pb, spec, conv2d_role::dgrad);
    return conv2d_narrow_dgrad(pb, dy, dx, spec, detail::worth_threads(pb), true);
  }
#endif
  fill_zero(dx, pb.N * pb.C * pb.H * pb.W);
  conv2d_dgrad(pb, dy, dx, spec);
}

template <class T>
void conv2d_wgrad(const conv2d_problem& pb, const T* x, const T* dy, const mixing::spec<T>& spec) {
  check_conv2d_spec("cpu::conv2d_wgrad", pb, spec, conv2d_role::wgrad);
  const bool want_db = spec.wants_bias_grad();
  const bool want_dw = spec.wants_weight_grad();
  if (!want_dw && !want_db) return;

#if MODELMIX_HAS_DIRECT_CONV
  if (direct_wgrad_applies<T>(pb)) return conv2d_direct_wgrad(pb, x, dy, spec, detail::worth_threads(pb));
#endif
  const index_t K = pb.K, CRS = pb.gemm_k(), PQ = pb.P() * pb.Q();
  if (want_dw && detail::whole_batch_wgrad(pb)) return detail::conv2d_wgrad_whole_batch(pb, x, dy, spec);
  const detail::band_grid grid(pb, 1);
  const bool pointwise = detail::is_pointwise(pb);
  RowMajorMatrix<T> dw = RowMajorMatrix<T>::Zero(want_dw ? K : 0, CRS);
  Eigen::Matrix<T, Eigen::Dynamic, 1> db = Eigen::Matrix<T, Eigen::Dynamic, 1>::Zero(want_db ? K : 0);
  // Each thread accumulates a fixed (static) share of the bands; the shares are added in thread
  // order, so a run is reproducible bit for bit for a given thread count.
  const int threads = detail::worth_threads(pb) ? max_threads() : 1;
  std::vector<RowMajorMatrix<T>> dw_parts(static_cast<std::size_t>(threads));
  std::vector<Eigen::Matrix<T, Eigen::Dynamic, 1>> db_parts(static_cast<std::size_t>(threads));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const std::size_t me = std::size_t(thread_id());
    auto col = detail::scratch<T>(pointwise || !want_dw ? 0 : CRS * grid.rows() * pb.Q());
    RowMajorMatrix<T>& dw_local = dw_parts[me] = RowMajorMatrix<T>::Zero(dw.rows(), dw.cols());
    Eigen::Matrix<T, Eigen::Dynamic, 1>& db_local = db_parts[me] = Eigen::Matrix<T, Eigen::Dynamic, 1>::Zero(db.size());
#pragma omp for schedule(static)
    for (index_t task = 0; task < grid.size(); ++task) {
      const detail::band b = grid[task];
      const index_t cols = (b.p1 - b.p0) * pb.Q();
      const detail::ConstStridedMap<T> DY(dy + b.n * K * PQ + b.p0 * pb.Q(), K, cols, Eigen::OuterStride<>(PQ));
      if (want_dw) dw_local.noalias() += DY * detail::band_operand(pb, x, b, col.get()).transpose();
      if (want_db) db_local += DY.rowwise().sum();
    }
  }
  for (int t = 0; t < threads; ++t) {
    if (dw_parts[std::size_t(t)].size() == dw.size()) dw += dw_parts[std::size_t(t)];
    if (db_parts[std::size_t(t)].size() == db.size()) db += db_parts[std::size_t(t)];
  }
  split_into_parents(spec, want_dw ? dw.data() : nullptr, want_db ? db.data() : nullptr);
}

}  // namespace modelmix::ops::cpu

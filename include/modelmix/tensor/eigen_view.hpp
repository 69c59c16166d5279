#pragma once
// Zero-copy Eigen views of tensor storage, used to hand operands to Eigen's GEMM.
// Row-major maps match the tensors' memory order, so a [K, C, R, S] filter is a K × (C·R·S)
// matrix without any copy.
#include <Eigen/Core>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix {

template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMajorMatrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix<T>>;

template <class T>
MatrixMap<T> as_matrix(T* data, index_t rows, index_t cols) { return MatrixMap<T>(data, rows, cols); }
template <class T>
ConstMatrixMap<T> as_matrix(const T* data, index_t rows, index_t cols) { return ConstMatrixMap<T>(data, rows, cols); }

// View a tensor as rows × cols, where rows·cols must equal numel().
template <class T>
MatrixMap<T> as_matrix(Tensor<T>& t, index_t rows, index_t cols) {
  MODELMIX_REQUIRE(rows * cols == t.numel(), "as_matrix: ", rows, "x", cols, " does not cover ", t.shape());
  return MatrixMap<T>(t.data(), rows, cols);
}
template <class T>
ConstMatrixMap<T> as_matrix(const Tensor<T>& t, index_t rows, index_t cols) {
  MODELMIX_REQUIRE(rows * cols == t.numel(), "as_matrix: ", rows, "x", cols, " does not cover ", t.shape());
  return ConstMatrixMap<T>(t.data(), rows, cols);
}

// A flat vector view, for reductions and axpy-style updates.
template <class T>
Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> as_vector(Tensor<T>& t) {
  return Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(t.data(), t.numel());
}
template <class T>
Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> as_vector(const Tensor<T>& t) {
  return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(t.data(), t.numel());
}

}  // namespace modelmix

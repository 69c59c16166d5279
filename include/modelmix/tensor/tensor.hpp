#pragma once
// Tensor<T, Device>: a shape plus contiguous row-major storage, with value semantics
// (copying copies the data; moving is free). Storage is 64-byte aligned. Views onto the storage for xtensor and Eigen
// live in tensor/xtensor_view.hpp and tensor/eigen_view.hpp.
//
// Only host storage exists in the header-only core; the CUDA backend brings its own
// device buffers behind the optional modelmix::cuda target.
#include <algorithm>
#include <span>
#include <type_traits>
#include <vector>

#include "modelmix/core/device.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"
#include "modelmix/tensor/aligned_allocator.hpp"

namespace modelmix {

template <class T, class D = cpu_t>
class Tensor {
  static_assert(std::is_same_v<D, cpu_t>,
                "modelmix::Tensor holds host memory; device buffers come with modelmix::cuda");

 public:
  using value_type = T;
  using device_type = D;

  Tensor() = default;
  explicit Tensor(Shape shape) : shape_(std::move(shape)), data_(static_cast<std::size_t>(shape_.numel()), T(0)) {}
  Tensor(Shape shape, T fill) : shape_(std::move(shape)), data_(static_cast<std::size_t>(shape_.numel()), fill) {}
  Tensor(Shape shape, const std::vector<T>& values) : shape_(std::move(shape)), data_(values.begin(), values.end()) {
    MODELMIX_REQUIRE(static_cast<index_t>(data_.size()) == shape_.numel(), "Tensor: ", data_.size(),
                     " values do not fill shape ", shape_);
  }

  [[nodiscard]] const Shape& shape() const { return shape_; }
  [[nodiscard]] int rank() const { return shape_.rank(); }
  [[nodiscard]] index_t dim(int axis) const { return shape_[axis]; }
  [[nodiscard]] index_t numel() const { return static_cast<index_t>(data_.size()); }
  [[nodiscard]] bool empty() const { return data_.empty(); }

  [[nodiscard]] T* data() { return data_.data(); }
  [[nodiscard]] const T* data() const { return data_.data(); }
  [[nodiscard]] std::span<T> span() { return data_; }
  [[nodiscard]] std::span<const T> span() const { return data_; }
  [[nodiscard]] aligned_vector<T>& storage() { return data_; }
  [[nodiscard]] const aligned_vector<T>& storage() const { return data_; }

  T& operator[](index_t i) { return data_[static_cast<std::size_t>(i)]; }
  const T& operator[](index_t i) const { return data_[static_cast<std::size_t>(i)]; }

  // Multi-index access, e.g. t(n, c, h, w). Unchecked in release builds.
  template <class... I>
  T& operator()(I... idx) { return data_[static_cast<std::size_t>(offset(idx...))]; }
  template <class... I>
  const T& operator()(I... idx) const { return data_[static_cast<std::size_t>(offset(idx...))]; }

  void fill(T value) { std::fill(data_.begin(), data_.end(), value); }
  void zero() { fill(T(0)); }

  // Same storage, new shape with the same number of elements.
  [[nodiscard]] Tensor reshaped(Shape shape) const& {
    Tensor copy = *this;
    copy.reshape(std::move(shape));
    return copy;
  }
  [[nodiscard]] Tensor reshaped(Shape shape) && {
    reshape(std::move(shape));
    return std::move(*this);
  }
  void reshape(Shape shape) {
    MODELMIX_REQUIRE(shape.numel() == shape_.numel(), "reshape: ", shape_, " has ", shape_.numel(),
                     " elements, ", shape, " needs ", shape.numel());
    shape_ = std::move(shape);
  }

  // Elementwise accumulation, the building block of gradient accumulation.
  Tensor& operator+=(const Tensor& other) {
    MODELMIX_REQUIRE(other.shape_ == shape_, "Tensor +=: shape ", other.shape_, " into ", shape_);
    for (std::size_t i = 0; i < data_.size(); ++i) data_[i] += other.data_[i];
    return *this;
  }

 private:
  template <class... I>
  [[nodiscard]] index_t offset(I... idx) const {
    const index_t list[] = {static_cast<index_t>(idx)...};
    index_t off = 0;
    for (int axis = 0; axis < static_cast<int>(sizeof...(I)); ++axis) off = off * shape_[axis] + list[axis];
    return off;
  }

  Shape shape_;
  aligned_vector<T> data_;  // 64-byte aligned: see tensor/aligned_allocator.hpp
};

template <class T>
[[nodiscard]] bool same_shape(const Tensor<T>& a, const Tensor<T>& b) { return a.shape() == b.shape(); }

}  // namespace modelmix

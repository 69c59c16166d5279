#pragma once
// Shapes are short lists of extents, row-major (the last extent varies fastest).
// Images are NCHW throughout the library.
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"

namespace modelmix {

using index_t = std::int64_t;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<index_t> dims) : dims_(dims) { validate(); }
  explicit Shape(std::vector<index_t> dims) : dims_(std::move(dims)) { validate(); }

  [[nodiscard]] int rank() const { return static_cast<int>(dims_.size()); }
  [[nodiscard]] index_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  [[nodiscard]] index_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  [[nodiscard]] const std::vector<index_t>& dims() const { return dims_; }
  [[nodiscard]] index_t numel() const {
    index_t n = 1;
    for (index_t d : dims_) n *= d;
    return n;
  }
  // Elements between consecutive indices of `axis`.
  [[nodiscard]] index_t stride(int axis) const {
    index_t s = 1;
    for (int i = rank() - 1; i > axis; --i) s *= dims_[static_cast<std::size_t>(i)];
    return s;
  }
  [[nodiscard]] std::string str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < dims_.size(); ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
  }
  friend bool operator==(const Shape&, const Shape&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Shape& s) { return out << s.str(); }

 private:
  void validate() const {
    for (index_t d : dims_) MODELMIX_REQUIRE(d >= 0, "negative extent in shape ", str());
  }
  std::vector<index_t> dims_;
};

}  // namespace modelmix

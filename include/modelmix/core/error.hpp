#pragma once
// One exception type for every misuse the library detects. Messages say what was wrong and
// name the argument, parameter path or file involved.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace modelmix {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenate anything streamable into one message: cat("shape ", s, " != ", t).
template <class... Parts>
std::string cat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

}  // namespace modelmix

// The message is built only when the check fails, so checks cost nothing on hot paths.
#define MODELMIX_REQUIRE(condition, ...)                                 \
  do {                                                                   \
    if (!(condition)) throw ::modelmix::error(::modelmix::cat(__VA_ARGS__)); \
  } while (false)

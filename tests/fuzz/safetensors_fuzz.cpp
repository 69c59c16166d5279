// Fuzz target: io::decode_safetensors on arbitrary bytes. Every input must either decode or
// throw modelmix::error; what decodes must encode and decode again to the same archive.
#include <cstdlib>
#include <span>

#include "modelmix/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace io = modelmix::io;
  try {
    const io::tensor_archive a =
        io::decode_safetensors(std::span<const char>(reinterpret_cast<const char*>(data), size), "fuzz input");
    const std::vector<char> again = io::encode_safetensors(a);
    const io::tensor_archive b = io::decode_safetensors(again, "re-encoded fuzz input");
    if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) std::abort();
    for (const auto& [name, tensor] : a.tensors)
      if (!b.contains(name) || b.type_of(name) != a.type_of(name) || !(b.shape_of(name) == a.shape_of(name)))
        std::abort();
  } catch (const modelmix::error&) {
  }
  return 0;
}

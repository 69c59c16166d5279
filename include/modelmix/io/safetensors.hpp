#pragma once
// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), the
// layout PyTorch users load with safetensors.torch.load_file:
//
//   bytes 0..8      u64 little-endian: N, the length of the JSON header
//   bytes 8..8+N    JSON: {"__metadata__": {"key": "value", ...},
//                          "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
//                   padded with spaces so the data starts 8-byte aligned
//   bytes 8+N..     the data buffer: each tensor's raw little-endian row-major values at
//                   [begin, end) relative to the buffer start; tensors tile it with no gap
//
// Names follow PyTorch state_dict names (encoder.block1.conv1.weight). Supported dtypes: F32,
// F64, I64 (step counters, RNG state), U8. We write what the reference implementation writes:
// tensors ordered by dtype (I64, F64, F32, U8), then name, so every tensor is aligned; compact
// JSON with __metadata__ first, then the tensors in data order.
//
// Writing is atomic: the bytes go to "<path>.tmp-<pid>", are flushed and fsync'ed, then renamed
// over <path>; on any failure the temporary is removed and an existing <path> stays intact.
// Reading validates the whole header (length, JSON syntax, dtypes, shapes, offsets in range,
// no overlap, no gap) and throws modelmix::error naming the file and the problem.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelmix/core/error.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::io {

static_assert(std::endian::native == std::endian::little, "safetensors I/O copies raw little-endian values");

enum class dtype { f32, f64, i64, u8 };

[[nodiscard]] inline const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::f32: return "F32";
    case dtype::f64: return "F64";
    case dtype::i64: return "I64";
    case dtype::u8: return "U8";
  }
  return "?";
}
[[nodiscard]] inline std::size_t dtype_size(dtype t) {
  switch (t) {
    case dtype::f32: return 4;
    case dtype::f64: case dtype::i64: return 8;
    case dtype::u8: return 1;
  }
  return 0;
}

template <class T>
constexpr dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return dtype::f32;
  else if constexpr (std::is_same_v<T, double>) return dtype::f64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return dtype::i64;
  else {
    static_assert(std::is_same_v<T, std::uint8_t>, "safetensors: supported element types are float, double, int64, uint8");
    return dtype::u8;
  }
}

using archive_tensor = std::variant<Tensor<float>, Tensor<double>, Tensor<std::int64_t>, Tensor<std::uint8_t>>;

// Named tensors plus string metadata: what one safetensors file holds.
struct tensor_archive {
  std::map<std::string, archive_tensor> tensors;
  std::map<std::string, std::string> metadata;

  template <class T>
  void put(const std::string& name, Tensor<T> value) {
    (void)dtype_of<T>();
    tensors[name] = std::move(value);
  }
  [[nodiscard]] bool contains(const std::string& name) const { return tensors.count(name) != 0; }
  [[nodiscard]] dtype type_of(const std::string& name) const {
    return std::visit([](const auto& t) { return dtype_of<typename std::decay_t<decltype(t)>::value_type>(); },
                      find(name));
  }
  [[nodiscard]] const Shape& shape_of(const std::string& name) const {
    return std::visit([](const auto& t) -> const Shape& { return t.shape(); }, find(name));
  }
  // The tensor stored with exactly element type T.
  template <class T>
  [[nodiscard]] const Tensor<T>& get(const std::string& name) const {
    const archive_tensor& t = find(name);
    MODELMIX_REQUIRE(std::holds_alternative<Tensor<T>>(t), "tensor_archive: '", name, "' is stored as ",
                     dtype_name(type_of(name)), ", not ", dtype_name(dtype_of<T>()));
    return std::get<Tensor<T>>(t);
  }
  // The tensor converted to element type T (F32 weights into a double model, and so on).
  template <class T>
  [[nodiscard]] Tensor<T> get_as(const std::string& name) const {
    return std::visit(
        [](const auto& t) {
          Tensor<T> out(t.shape());
          for (index_t i = 0; i < t.numel(); ++i) out[i] = static_cast<T>(t[i]);
          return out;
        },
        find(name));
  }

 private:
  const archive_tensor& find(const std::string& name) const {
    auto it = tensors.find(name);
    MODELMIX_REQUIRE(it != tensors.end(), "tensor_archive: no tensor named '", name, "' (", tensors.size(),
                     " tensors stored)");
    return it->second;
  }
};

namespace detail {

// ---- a JSON subset: objects, arrays, strings, integers (all a safetensors header uses) ----
struct json_value {
  enum class kind { object, array, string, integer } type = kind::object;
  std::string text;                // string
  std::int64_t integer = 0;        // integer
  std::vector<std::string> keys;   // object keys, in file order (items holds the values)
  std::vector<json_value> items;   // object values or array elements
};

class json_parser {
 public:
  json_parser(std::string_view text, std::string context) : text_(text), context_(std::move(context)) {}

  json_value parse_document() {
    skip_space();
    json_value v = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected characters after the top-level object");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw error(cat(context_, "bad JSON header at byte ", pos_, ": ", what));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  char peek() {
    if (pos_ >= text_.size()) fail("unexpected end of the header");
    return text_[pos_];
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(cat("expected '", c, "', found '", text_[pos_], "'"));
    ++pos_;
  }

  json_value parse_value(int depth) {
    if (depth > 32) fail("nesting deeper than 32 levels");
    skip_space();
    const char c = peek();
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') {
      json_value v;
      v.type = json_value::kind::string;
      v.text = parse_string();
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_integer();
    fail(cat("unexpected character '", c, "'"));
  }

  json_value parse_object(int depth) {
    json_value v;
    v.type = json_value::kind::object;
    ++pos_;
    skip_space();
    if (peek() == '}') return ++pos_, v;
    for (;;) {
      skip_space();
      if (peek() != '"') fail("expected a string key");
      v.keys.push_back(parse_string());
      expect(':');
      v.items.push_back(parse_value(depth + 1));
      skip_space();
      if (peek() == '}') return ++pos_, v;
      if (peek() != ',') fail("expected ',' or '}' in an object");
      ++pos_;
    }
  }

  json_value parse_array(int depth) {
    json_value v;
    v.type = json_value::kind::array;
    ++pos_;
    skip_space();
    if (peek() == ']') return ++pos_, v;
    for (;;) {
      v.items.push_back(parse_value(depth + 1));
      skip_space();
      if (peek() == ']') return ++pos_, v;
      if (peek() != ',') fail("expected ',' or ']' in an array");
      ++pos_;
    }
  }

  json_value parse_integer() {
    json_value v;
    v.type = json_value::kind::integer;
    const bool negative = text_[pos_] == '-';
    if (negative) ++pos_;
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected digits");
    std::uint64_t magnitude = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const unsigned digit = unsigned(text_[pos_] - '0');
      if (magnitude > (std::uint64_t(INT64_MAX) - digit) / 10) fail("integer out of range");
      magnitude = magnitude * 10 + digit;
      ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))
      fail("only integers are expected in a safetensors header");
    v.integer = negative ? -std::int64_t(magnitude) : std::int64_t(magnitude);
    return v;
  }

  unsigned parse_hex4() {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= unsigned(h - '0');
      else if (h >= 'a' && h <= 'f') code |= unsigned(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') code |= unsigned(h - 'A' + 10);
      else fail("bad hex digit in a \\u escape");
    }
    return code;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      switch (const char e = text_[pos_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': append_utf8(out, parse_code_point()); break;
        default: fail(cat("unknown escape '\\", e, "'"));
      }
    }
  }

  unsigned parse_code_point() {
    unsigned code = parse_hex4();
    if (code >= 0xDC00 && code <= 0xDFFF) fail("lone low surrogate in a \\u escape");
    if (code >= 0xD800 && code <= 0xDBFF) {
      if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') fail("unpaired surrogate");
      pos_ += 2;
      const unsigned low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF) fail("bad low surrogate");
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += char(code);
    } else if (code < 0x800) {
      out += char(0xC0 | (code >> 6));
      out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += char(0xE0 | (code >> 12));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    } else {
      out += char(0xF0 | (code >> 18));
      out += char(0x80 | ((code >> 12) & 0x3F));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    }
  }

  std::string_view text_;
  std::string context_;
  std::size_t pos_ = 0;
};

inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;  // UTF-8 passes through unchanged
        }
    }
  }
  out += '"';
}

inline std::string errno_text() { return std::strerror(errno); }

struct tensor_bytes {
  const std::string* name;
  dtype type;
  const Shape* shape;
  const char* data;
  std::size_t size;
};

}  // namespace detail

// ---- encoding -------------------------------------------------------------------------------

[[nodiscard]] inline std::vector<char> encode_safetensors(const tensor_archive& archive) {
  std::vector<detail::tensor_bytes> order;
  for (const auto& entry : archive.tensors) {
    const std::string& name = entry.first;  // not a structured binding: lambdas capture it (clang < 16)
    const archive_tensor& tensor = entry.second;
    MODELMIX_REQUIRE(!name.empty(), "encode_safetensors: a tensor has an empty name");
    MODELMIX_REQUIRE(name != "__metadata__", "encode_safetensors: '__metadata__' is reserved and cannot name a tensor");
    std::visit(
        [&](const auto& t) {
          using T = typename std::decay_t<decltype(t)>::value_type;
          order.push_back({&name, dtype_of<T>(), &t.shape(), reinterpret_cast<const char*>(t.data()),
                           static_cast<std::size_t>(t.numel()) * sizeof(T)});
        },
        tensor);
  }
  // The reference writer's order: I64, F64, F32, U8 (its dtype enum, descending), then by name.
  // Larger elements come first, so every tensor is aligned to its element size.
  auto rank = [](dtype t) { return t == dtype::i64 ? 3 : t == dtype::f64 ? 2 : t == dtype::f32 ? 1 : 0; };
  std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) { return rank(a.type) > rank(b.type); });

  std::string header = "{";
  if (!archive.metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : archive.metadata) {
      if (!first) header += ',';
      first = false;
      detail::append_json_string(header, key);
      header += ':';
      detail::append_json_string(header, value);
    }
    header += '}';
  }
  std::size_t offset = 0;
  for (const auto& t : order) {
    if (header.size() > 1) header += ',';
    detail::append_json_string(header, *t.name);
    header += cat(":{\"dtype\":\"", dtype_name(t.type), "\",\"shape\":[");
    for (int axis = 0; axis < t.shape->rank(); ++axis) header += cat(axis ? "," : "", (*t.shape)[axis]);
    header += cat("],\"data_offsets\":[", offset, ",", offset + t.size, "]}");
    offset += t.size;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  std::vector<char> bytes(8 + header.size() + offset);
  const std::uint64_t length = header.size();
  std::memcpy(bytes.data(), &length, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  char* data = bytes.data() + 8 + header.size();
  for (const auto& t : order) {
    if (t.size) std::memcpy(data, t.data, t.size);
    data += t.size;
  }
  return bytes;
}

// ---- decoding -------------------------------------------------------------------------------

// `source` names the bytes' origin (the file path) in error messages.
[[nodiscard]] inline tensor_archive decode_safetensors(std::span<const char> bytes, const std::string& source) {
  const std::string where = cat("safetensors: ", source, ": ");
  MODELMIX_REQUIRE(bytes.size() >= 8, where, "truncated file: ", bytes.size(),
                   " bytes, fewer than the 8-byte header length");
  std::uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  const std::uint64_t available = bytes.size() - 8;
  MODELMIX_REQUIRE(length <= available, where, "header length ", length, " runs past the end of the file (",
                   available, " bytes after the length field)");
  const std::string_view text(bytes.data() + 8, static_cast<std::size_t>(length));
  MODELMIX_REQUIRE(!text.empty() && text.front() == '{', where, "the header does not start with '{'");
  const detail::json_value root = detail::json_parser(text, where).parse_document();

  const std::span<const char> data = bytes.subspan(8 + static_cast<std::size_t>(length));
  struct placed {
    std::string name;
    std::uint64_t begin, end;
  };
  std::vector<placed> placement;
  tensor_archive archive;
  for (std::size_t k = 0; k < root.keys.size(); ++k) {
    const std::string& name = root.keys[k];
    const detail::json_value& entry = root.items[k];
    const std::string what = cat(where, "entry '", name, "': ");
    MODELMIX_REQUIRE(entry.type == detail::json_value::kind::object, what, "expected an object");

    if (name == "__metadata__") {
      MODELMIX_REQUIRE(archive.metadata.empty(), where, "duplicate '__metadata__'");
      for (std::size_t m = 0; m < entry.keys.size(); ++m) {
        MODELMIX_REQUIRE(entry.items[m].type == detail::json_value::kind::string, what, "value of '", entry.keys[m],
                         "' is not a string");
        MODELMIX_REQUIRE(archive.metadata.emplace(entry.keys[m], entry.items[m].text).second, what,
                         "duplicate key '", entry.keys[m], "'");
      }
      continue;
    }
    MODELMIX_REQUIRE(!archive.contains(name), where, "duplicate tensor name '", name, "'");

    const detail::json_value *type = nullptr, *shape = nullptr, *offsets = nullptr;
    for (std::size_t f = 0; f < entry.keys.size(); ++f) {
      const std::string& field = entry.keys[f];
      const detail::json_value** slot = field == "dtype" ? &type : field == "shape" ? &shape
                                        : field == "data_offsets" ? &offsets : nullptr;
      MODELMIX_REQUIRE(slot != nullptr, what, "unknown field '", field, "'");
      MODELMIX_REQUIRE(*slot == nullptr, what, "duplicate field '", field, "'");
      *slot = &entry.items[f];
    }
    MODELMIX_REQUIRE(type && shape && offsets, what, "needs \"dtype\", \"shape\" and \"data_offsets\"");
    MODELMIX_REQUIRE(type->type == detail::json_value::kind::string, what, "dtype is not a string");
    dtype t{};
    if (type->text == "F32") t = dtype::f32;
    else if (type->text == "F64") t = dtype::f64;
    else if (type->text == "I64") t = dtype::i64;
    else if (type->text == "U8") t = dtype::u8;
    else throw error(cat(what, "unsupported dtype '", type->text, "' (supported: F32, F64, I64, U8)"));

    MODELMIX_REQUIRE(shape->type == detail::json_value::kind::array, what, "shape is not an array");
    std::vector<index_t> dims;
    std::uint64_t count = 1;  // product of the non-zero extents, kept below 2^62 so numel() cannot overflow
    bool empty = false;
    for (const detail::json_value& d : shape->items) {
      MODELMIX_REQUIRE(d.type == detail::json_value::kind::integer && d.integer >= 0, what,
                       "shape entries must be non-negative integers");
      dims.push_back(d.integer);
      if (d.integer == 0) {
        empty = true;
        continue;
      }
      MODELMIX_REQUIRE(count <= (std::uint64_t(1) << 62) / std::uint64_t(d.integer), what, "shape ", Shape(dims),
                       "... has too many elements");
      count *= std::uint64_t(d.integer);
    }
    if (empty) count = 0;
    MODELMIX_REQUIRE(offsets->type == detail::json_value::kind::array && offsets->items.size() == 2 &&
                         offsets->items[0].type == detail::json_value::kind::integer &&
                         offsets->items[1].type == detail::json_value::kind::integer,
                     what, "data_offsets must be [begin, end]");
    const std::int64_t begin = offsets->items[0].integer, end = offsets->items[1].integer;
    MODELMIX_REQUIRE(begin >= 0 && begin <= end, what, "data_offsets [", begin, ", ", end, "] are not ordered");
    MODELMIX_REQUIRE(std::uint64_t(end) <= data.size(), what, "data_offsets [", begin, ", ", end,
                     "] out of range: the data buffer has ", data.size(), " bytes");
    const bool representable = count <= UINT64_MAX / dtype_size(t);
    MODELMIX_REQUIRE(representable && std::uint64_t(end - begin) == count * dtype_size(t), what, "shape ", Shape(dims),
                     " of ", type->text, " needs ", (representable ? cat(count * dtype_size(t)) : cat("more than 2^64")),
                     " bytes, data_offsets [", begin, ", ", end, "] hold ", end - begin);
    placement.push_back({name, std::uint64_t(begin), std::uint64_t(end)});

    const char* src = data.data() + begin;
    const std::size_t size = static_cast<std::size_t>(end - begin);
    auto fill = [&]<class T>(Tensor<T> tensor) {
      if (size) std::memcpy(tensor.data(), src, size);
      archive.tensors.emplace(name, std::move(tensor));
    };
    switch (t) {
      case dtype::f32: fill(Tensor<float>(Shape(dims))); break;
      case dtype::f64: fill(Tensor<double>(Shape(dims))); break;
      case dtype::i64: fill(Tensor<std::int64_t>(Shape(dims))); break;
      case dtype::u8: fill(Tensor<std::uint8_t>(Shape(dims))); break;
    }
  }

  // The tensors must tile the data buffer exactly.
  std::sort(placement.begin(), placement.end(),
            [](const placed& a, const placed& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t covered = 0;
  const placed* previous = nullptr;
  for (const placed& p : placement) {
    MODELMIX_REQUIRE(p.begin >= covered, where, "tensors '", previous ? previous->name : "", "' and '", p.name,
                     "' overlap in the data buffer (byte ", p.begin, " < ", covered, ")");
    MODELMIX_REQUIRE(p.begin == covered, where, "gap in the data buffer: bytes [", covered, ", ", p.begin,
                     ") belong to no tensor");
    covered = p.end;
    previous = &p;
  }
  MODELMIX_REQUIRE(covered == data.size(), where, "gap in the data buffer: bytes [", covered, ", ", data.size(),
                   ") after the last tensor belong to no tensor");
  return archive;
}

// ---- files ----------------------------------------------------------------------------------

[[nodiscard]] inline tensor_archive load_safetensors(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  MODELMIX_REQUIRE(fd >= 0, "load_safetensors: cannot open ", name, ": ", detail::errno_text());
  std::vector<char> bytes;
  struct stat info {};
  bool ok = ::fstat(fd, &info) == 0;
  std::string problem = ok ? "" : cat("fstat failed: ", detail::errno_text());
  if (ok && !S_ISREG(info.st_mode)) ok = false, problem = "not a regular file";
  if (ok) {
    bytes.resize(static_cast<std::size_t>(info.st_size));
    std::size_t done = 0;
    while (ok && done < bytes.size()) {
      const ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) ok = false, problem = got < 0 ? cat("read failed: ", detail::errno_text()) : "file shrank while reading";
      else done += static_cast<std::size_t>(got);
    }
  }
  ::close(fd);
  MODELMIX_REQUIRE(ok, "load_safetensors: cannot read ", name, ": ", problem);
  return decode_safetensors(bytes, name);
}

inline void save_safetensors(const std::filesystem::path& path, const tensor_archive& archive) {
  const std::vector<char> bytes = encode_safetensors(archive);
  const std::string target = path.string();
  const std::string temporary = cat(target, ".tmp-", ::getpid());
  auto fail = [&](const char* step, int fd) {
    const std::string reason = detail::errno_text();
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    throw error(cat("save_safetensors: cannot write ", target, ": ", step, " failed: ", reason,
                    " (the previous file, if any, is unchanged)"));
  };

  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const std::string reason = detail::errno_text();
    throw error(cat("save_safetensors: cannot write ", target, ": creating ", temporary, " failed: ", reason,
                    " (the previous file, if any, is unchanged)"));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      if (wrote == 0) errno = EIO;
      fail("write", fd);
    }
    done += static_cast<std::size_t>(wrote);
  }
  if (::fsync(fd) != 0) fail("fsync", fd);
  if (::close(fd) != 0) fail("close", -1);
  if (::rename(temporary.c_str(), target.c_str()) != 0) fail("rename", -1);
  // Persist the rename itself; a failure here cannot corrupt either file, so it is not an error.
  const std::filesystem::path parent = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (const int dir = ::open(parent.string().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

}  // namespace modelmix::io

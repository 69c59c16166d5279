#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "modelmix/io/safetensors.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace fs = std::filesystem;

namespace {
// A fresh directory per test case, removed afterwards.
struct scratch_dir {
  fs::path path;
  explicit scratch_dir(const std::string& name)
      : path(fs::temp_directory_path() / ("modelmix-st-" + std::to_string(::getpid()) + "-" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~scratch_dir() { fs::remove_all(path); }
};

std::vector<char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A file from a header string and a data buffer, with a correct length field.
std::vector<char> raw_file(const std::string& header, std::size_t data_bytes) {
  std::vector<char> bytes(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

io::tensor_archive sample_archive() {
  io::tensor_archive a;
  a.put("encoder.block1.conv1.weight", test::random_tensor<float>(Shape{3, 1, 3, 3}, 1));
  a.put("encoder.block1.conv1.bias", test::random_tensor<float>(Shape{3}, 2));
  a.put("head.weight", test::random_tensor<double>(Shape{2, 5, 1, 1}, 3));
  a.put("optim.step", Tensor<std::int64_t>(Shape{}, std::int64_t{-1234567890123}));
  a.put("rng.state", Tensor<std::uint8_t>(Shape{5}, std::vector<std::uint8_t>{0, 1, 127, 128, 255}));
  a.put("empty", Tensor<float>(Shape{0, 4}));
  a.metadata["format"] = "pt";
  a.metadata["note"] = "quote \" backslash \\ newline \n tab \t ctrl \x01 unicode caf\xC3\xA9";
  return a;
}

template <class T>
void check_same(const io::tensor_archive& a, const io::tensor_archive& b, const std::string& name) {
  INFO(name);
  const Tensor<T>& x = a.get<T>(name);
  const Tensor<T>& y = b.get<T>(name);
  CHECK(x.shape() == y.shape());
  CHECK(x.storage() == y.storage());
}
}  // namespace

TEST_CASE("safetensors round trip keeps names, dtypes, shapes, values and metadata", "[io][safetensors]") {
  scratch_dir dir("roundtrip");
  const io::tensor_archive a = sample_archive();
  io::save_safetensors(dir.path / "model.safetensors", a);
  const io::tensor_archive b = io::load_safetensors(dir.path / "model.safetensors");
  CHECK(b.tensors.size() == a.tensors.size());
  CHECK(b.metadata == a.metadata);
  check_same<float>(a, b, "encoder.block1.conv1.weight");
  check_same<float>(a, b, "encoder.block1.conv1.bias");
  check_same<double>(a, b, "head.weight");
  check_same<std::int64_t>(a, b, "optim.step");
  check_same<std::uint8_t>(a, b, "rng.state");
  check_same<float>(a, b, "empty");
  CHECK(b.shape_of("optim.step") == Shape{});
  CHECK(b.type_of("head.weight") == io::dtype::f64);

  // Conversion on request, strict otherwise.
  const Tensor<double> widened = b.get_as<double>("encoder.block1.conv1.bias");
  CHECK(widened[1] == double(a.get<float>("encoder.block1.conv1.bias")[1]));
  CHECK_THROWS_WITH(b.get<double>("encoder.block1.conv1.bias"), Catch::Contains("stored as F32, not F64"));
  CHECK_THROWS_WITH(b.get<float>("missing"), Catch::Contains("no tensor named 'missing'"));

  // No temporary left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);
}

TEST_CASE("safetensors writes the reference byte layout", "[io][safetensors]") {
  io::tensor_archive a;
  a.put("a", Tensor<float>(Shape{2}, std::vector<float>{1.0f, -2.0f}));
  a.put("n", Tensor<std::int64_t>(Shape{}, std::int64_t{7}));
  a.metadata["format"] = "pt";
  const std::vector<char> bytes = io::encode_safetensors(a);

  // I64 before F32, __metadata__ first, compact JSON, padded with spaces to a multiple of 8.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})"
      "      ";
  REQUIRE(header.size() == 144);
  std::vector<unsigned char> expected{144, 0, 0, 0, 0, 0, 0, 0};
  expected.insert(expected.end(), header.begin(), header.end());
  for (unsigned char b : {7, 0, 0, 0, 0, 0, 0, 0}) expected.push_back(b);        // int64 7
  for (unsigned char b : {0x00, 0x00, 0x80, 0x3F}) expected.push_back(b);        // 1.0f
  for (unsigned char b : {0x00, 0x00, 0x00, 0xC0}) expected.push_back(b);        // −2.0f
  REQUIRE(bytes.size() == expected.size());
  CHECK(std::memcmp(bytes.data(), expected.data(), expected.size()) == 0);
}

TEST_CASE("safetensors reads headers written by other tools", "[io][safetensors]") {
  // Whitespace, key order, \u escapes (with a surrogate pair) and no __metadata__.
  const std::string header =
      "{ \"caf\\u00e9\\ud83d\\ude00\" : { \"shape\" : [ 1 ], \"data_offsets\" : [ 0 , 8 ], \"dtype\" : \"F64\" } }";
  std::vector<char> bytes = raw_file(header, 8);
  const double value = 2.5;
  std::memcpy(bytes.data() + 8 + header.size(), &value, 8);
  const io::tensor_archive a = io::decode_safetensors(bytes, "x");
  CHECK(a.get<double>("caf\xC3\xA9\xF0\x9F\x98\x80")[0] == 2.5);
  CHECK(a.metadata.empty());
}

TEST_CASE("safetensors rejects corrupt files with an error naming the file and the problem", "[io][safetensors]") {
  scratch_dir dir("corrupt");
  const fs::path file = dir.path / "bad.safetensors";
  auto load_error = [&](const std::vector<char>& bytes) -> std::string {
    write_bytes(file, bytes);
    try {
      (void)io::load_safetensors(file);
    } catch (const modelmix::error& e) {
      return e.what();
    }
    return "no error";
  };
  auto tensor = [](const std::string& name, const std::string& dtype, const std::string& shape, int begin, int end) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(begin) + "," + std::to_string(end) + "]}";
  };

  struct corruption {
    const char* what;
    std::vector<char> bytes;
    const char* message;
  };
  std::vector<char> long_header = raw_file("{}", 0);
  long_header[0] = char(0xE8), long_header[1] = 0x03;  // claims 1000 header bytes
  std::vector<char> truncated_data = io::encode_safetensors(sample_archive());
  truncated_data.resize(truncated_data.size() - 4);
  const corruption cases[] = {
      {"truncated length", {1, 0, 0}, "truncated file: 3 bytes"},
      {"length past end", long_header, "header length 1000 runs past the end of the file (2 bytes"},
      {"not an object", raw_file("[1]", 0), "does not start with '{'"},
      {"bad JSON", raw_file("{\"a\":{\"dtype\":\"F32\",}}", 0), "bad JSON header at byte 20"},
      {"unterminated", raw_file("{\"a\":{\"dtype", 0), "bad JSON header"},
      {"trailing garbage", raw_file("{}x", 0), "unexpected characters after the top-level object"},
      {"float number", raw_file("{" + tensor("a", "F32", "[1.5]", 0, 4) + "}", 4), "only integers"},
      {"unknown dtype", raw_file("{" + tensor("a", "BF16", "[2]", 0, 4) + "}", 4), "entry 'a': unsupported dtype 'BF16'"},
      {"offsets out of range", raw_file("{" + tensor("a", "F32", "[16]", 0, 64) + "}", 8), "data_offsets [0, 64] out of range"},
      {"reversed offsets", raw_file("{" + tensor("a", "F32", "[1]", 8, 4) + "}", 8), "are not ordered"},
      {"size mismatch", raw_file("{" + tensor("a", "F32", "[3]", 0, 8) + "}", 8), "needs 12 bytes"},
      {"huge shape", raw_file("{" + tensor("a", "F32", "[1000000000,1000000000]", 0, 8) + "}", 8), "needs 4000000000000000000 bytes"},
      {"overflowing shape", raw_file("{" + tensor("a", "F32", "[1000000000000,1000000000000,0]", 0, 0) + "}", 0), "too many elements"},
      {"negative extent", raw_file("{" + tensor("a", "F32", "[-2]", 0, 8) + "}", 8), "non-negative integers"},
      {"overlap", raw_file("{" + tensor("a", "F32", "[2]", 0, 8) + "," + tensor("b", "F32", "[2]", 4, 12) + "}", 12), "'a' and 'b' overlap"},
      {"gap", raw_file("{" + tensor("a", "F32", "[1]", 0, 4) + "," + tensor("b", "F32", "[1]", 8, 12) + "}", 12), "gap in the data buffer: bytes [4, 8)"},
      {"trailing data", raw_file("{" + tensor("a", "F32", "[1]", 0, 4) + "}", 8), "bytes [4, 8) after the last tensor"},
      {"duplicate name", raw_file("{" + tensor("a", "F32", "[1]", 0, 4) + "," + tensor("a", "F32", "[1]", 4, 8) + "}", 8), "duplicate tensor name 'a'"},
      {"unknown field", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4), "unknown field 'x'"},
      {"missing field", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "needs \"dtype\", \"shape\" and \"data_offsets\""},
      {"metadata not strings", raw_file("{\"__metadata__\":{\"k\":1}}", 0), "value of 'k' is not a string"},
      {"deep nesting", raw_file("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", 0), "nesting deeper"},
      {"bad escape", raw_file("{\"a\\q\":{}}", 0), "unknown escape"},
      {"lone surrogate", raw_file("{\"\\udc00\":{}}", 0), "surrogate"},
      {"truncated data", truncated_data, "out of range"},
  };
  for (const corruption& c : cases) {
    INFO(c.what);
    const std::string message = load_error(c.bytes);
    CHECK_THAT(message, Catch::Contains(file.string()) && Catch::Contains(c.message));
  }
  CHECK_THROWS_WITH(io::load_safetensors(dir.path / "missing.safetensors"),
                    Catch::Contains("cannot open " + (dir.path / "missing.safetensors").string()) &&
                        Catch::Contains("No such file"));
  CHECK_THROWS_WITH(io::load_safetensors(dir.path), Catch::Contains("not a regular file"));
}

TEST_CASE("safetensors never crashes on damaged bytes", "[io][safetensors]") {
  const std::vector<char> good = io::encode_safetensors(sample_archive());
  int rejected = 0, accepted = 0;
  auto attempt = [&](const std::vector<char>& bytes) {
    try {
      (void)io::decode_safetensors(bytes, "fuzz");
      ++accepted;
    } catch (const modelmix::error&) {
      ++rejected;
    }
  };
  for (std::size_t n = 0; n < good.size(); n += 3) attempt(std::vector<char>(good.begin(), good.begin() + long(n)));
  std::mt19937 rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<char> bytes = good;
    const std::size_t header_end = 8 + 400;  // mutate the length field and the header
    bytes[rng() % std::min(header_end, bytes.size())] = char(rng());
    attempt(bytes);
  }
  CHECK(rejected > 0);
  CHECK(accepted + rejected == int((good.size() + 2) / 3) + 2000);
}

TEST_CASE("a failed save leaves the previous file intact", "[io][safetensors]") {
  scratch_dir dir("atomic");
  const fs::path file = dir.path / "ckpt.safetensors";
  io::tensor_archive small;
  small.put("w", Tensor<float>(Shape{2}, 1.0f));
  io::save_safetensors(file, small);
  const std::vector<char> before = read_bytes(file);

  io::tensor_archive big;
  big.put("w", test::random_tensor<float>(Shape{64, 64}, 9));

  SECTION("the temporary cannot be created") {
    const fs::path blocker = dir.path / ("ckpt.safetensors.tmp-" + std::to_string(::getpid()));
    fs::create_directory(blocker);
    CHECK_THROWS_WITH(io::save_safetensors(file, big),
                      Catch::Contains("cannot write " + file.string()) && Catch::Contains("previous file"));
    fs::remove(blocker);
  }
  SECTION("the disk fills up in the middle of the write") {
    // RLIMIT_FSIZE makes write() fail with EFBIG part-way through, like a full disk.
    struct sigaction ignore {}, previous {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &previous);
    rlimit old_limit{};
    ::getrlimit(RLIMIT_FSIZE, &old_limit);
    rlimit limit = old_limit;
    limit.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    std::string message;
    try {
      io::save_safetensors(file, big);
    } catch (const modelmix::error& e) {
      message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::sigaction(SIGXFSZ, &previous, nullptr);
    CHECK_THAT(message, Catch::Contains("cannot write " + file.string()) && Catch::Contains("write failed"));
  }
  SECTION("a name the format cannot hold") {
    io::tensor_archive reserved;
    reserved.put("__metadata__", Tensor<float>(Shape{1}));
    CHECK_THROWS_WITH(io::save_safetensors(file, reserved), Catch::Contains("reserved"));
  }
  CHECK(read_bytes(file) == before);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);  // no temporary left behind

  // And a successful save replaces it.
  io::save_safetensors(file, big);
  CHECK(io::load_safetensors(file).get<float>("w").shape() == Shape{64, 64});
}

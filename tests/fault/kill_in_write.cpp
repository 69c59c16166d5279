// Fault injection for the crash-safety tests: an LD_PRELOAD library that SIGKILLs the process
// in the middle of writing a chosen file, exactly as a kill -9 (or power loss) at the worst
// moment would. No test hook in the program or the library is involved.
//
//   MODELMIX_KILL_IN_WRITE=PATTERN:N:MODE LD_PRELOAD=libmodelmix_kill_in_write.so modelmix-cardiac train ...
//
// PATTERN: a substring of the path being written (e.g. "checkpoint.safetensors.tmp-");
// N: which matching call (1 = the first); MODE: "write" — the N-th write(2) to such a file
// writes half of its bytes and the process is killed; "rename" — the N-th rename(2) of such a
// file kills the process before the rename happens (the temporary is complete, the target old).
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct kill_spec {
  std::string pattern, mode;
  long when = 0;
};

const kill_spec* spec() {
  static const kill_spec* parsed = [] {
    const char* text = std::getenv("MODELMIX_KILL_IN_WRITE");
    if (text == nullptr) return static_cast<kill_spec*>(nullptr);
    const std::string s = text;
    const auto a = s.find(':'), b = s.rfind(':');
    if (a == std::string::npos || a == b) {
      std::fprintf(stderr, "kill_in_write: MODELMIX_KILL_IN_WRITE='%s': expected PATTERN:N:write|rename\n", text);
      std::abort();
    }
    return new kill_spec{s.substr(0, a), s.substr(b + 1), std::atol(s.substr(a + 1, b - a - 1).c_str())};
  }();
  return parsed;
}

std::atomic<long> matches{0};

bool is_target(const char* path, const char* mode) {
  const kill_spec* k = spec();
  return k != nullptr && k->mode == mode && std::strstr(path, k->pattern.c_str()) != nullptr && ++matches == k->when;
}

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" ssize_t write(int fd, const void* buffer, size_t bytes) {
  static const auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  if (spec() != nullptr && fd > 2) {
    char link[64], path[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, path, sizeof path - 1);
    if (n > 0) {
      path[n] = '\0';
      if (is_target(path, "write")) {
        (void)real(fd, buffer, bytes / 2);
        raise(SIGKILL);
      }
    }
  }
  return real(fd, buffer, bytes);
}

extern "C" int rename(const char* from, const char* to) {
  static const auto real = next<int (*)(const char*, const char*)>("rename");
  if (is_target(from, "rename")) raise(SIGKILL);
  return real(from, to);
}

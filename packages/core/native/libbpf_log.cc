// Capture of libbpf's print callback. The binding runs libbpf calls on the JS thread only, so a
// single capture buffer is enough; capture is on only between BeginLogCapture/EndLogCapture.
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common.h"

namespace boxwatch {

namespace {
bool capturing = false;
std::string captured;
// Bound the capture: a verifier log can be megabytes; the tail is where the error is.
constexpr size_t kMaxCapture = 4 * 1024 * 1024;

int PrintFn(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  if (!capturing) return 0;
  char buf[4096];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(buf, sizeof(buf), fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  if (static_cast<size_t>(n) < sizeof(buf)) {
    captured.append(buf, n);
  } else {
    std::string big(n + 1, '\0');
    vsnprintf(&big[0], big.size(), fmt, args);
    big.resize(n);
    captured += big;
  }
  if (captured.size() > kMaxCapture) captured.erase(0, captured.size() - kMaxCapture);
  return 0;
}
}  // namespace

void InstallLibbpfLogCapture() { libbpf_set_print(PrintFn); }

void BeginLogCapture() {
  capturing = true;
  captured.clear();
}

std::string EndLogCapture() {
  capturing = false;
  std::string out;
  out.swap(captured);
  return out;
}

std::string ExtractVerifierLog(const std::string& log) {
  const std::string begin = "-- BEGIN PROG LOAD LOG --";
  const std::string end = "-- END PROG LOAD LOG --";
  size_t b = log.rfind(begin);
  if (b == std::string::npos) return "";
  b += begin.size();
  if (b < log.size() && log[b] == '\n') b++;
  size_t e = log.find(end, b);
  return log.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

void ThrowErrno(Napi::Env env, const std::string& what, int err, const std::string& log) {
  if (err < 0) err = -err;
  std::string msg = what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  if (!log.empty()) {
    e.Set("libbpfLog", Napi::String::New(env, log));
    std::string v = ExtractVerifierLog(log);
    if (!v.empty()) e.Set("verifierLog", Napi::String::New(env, v));
  }
  throw e;
}

}  // namespace boxwatch

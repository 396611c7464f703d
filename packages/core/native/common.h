// Shared helpers for the boxwatch native binding.
#pragma once

#include <napi.h>
#include <string>

namespace boxwatch {

// Throw a JS Error carrying the errno (positive) and an optional verifier/libbpf log, which the
// TypeScript layer turns into a BoxwatchError with the right code.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string& what, int err, const std::string& log = "");

// libbpf's diagnostic output (including verifier logs) is captured rather than printed: the
// TypeScript layer attaches it to errors and routes warnings to the logger.
void InstallLibbpfLogCapture();
void BeginLogCapture();
std::string EndLogCapture();
// Extract the last verifier log ("-- BEGIN PROG LOAD LOG --" ... "-- END PROG LOAD LOG --").
std::string ExtractVerifierLog(const std::string& log);

Napi::Object InitBpfObject(Napi::Env env, Napi::Object exports);
Napi::Object InitMaps(Napi::Env env, Napi::Object exports);
Napi::Object InitRingBuffer(Napi::Env env, Napi::Object exports);

}  // namespace boxwatch

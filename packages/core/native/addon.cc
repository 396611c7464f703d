// Entry point of the boxwatch native binding: a thin Node-API layer over libbpf 1.x. Everything
// above this layer (codecs, decoding, lifecycle policy) is TypeScript; see src/native.ts.
#include <bpf/libbpf.h>
#include <bpf/libbpf_version.h>

#include "common.h"

namespace boxwatch {

static Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::to_string(libbpf_major_version()) + "." +
                                           std::to_string(libbpf_minor_version()));
}

static Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "libbpf_num_possible_cpus", n);
  return Napi::Number::New(info.Env(), n);
}

// probeMapType(type) → 1 supported, 0 not, throws on probe failure (libbpf_probe_bpf_map_type).
static Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  int r = libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(info[0].As<Napi::Number>().Int32Value()), nullptr);
  if (r < 0) ThrowErrno(info.Env(), "libbpf_probe_bpf_map_type", r);
  return Napi::Number::New(info.Env(), r);
}

// probeHelper(progType, helperId) → 1 supported, 0 not (libbpf_probe_bpf_helper).
static Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  int r = libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(info[0].As<Napi::Number>().Int32Value()),
                                  static_cast<enum bpf_func_id>(info[1].As<Napi::Number>().Int32Value()), nullptr);
  if (r < 0) ThrowErrno(info.Env(), "libbpf_probe_bpf_helper", r);
  return Napi::Number::New(info.Env(), r);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfLogCapture();
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper));
  InitBpfObject(env, exports);
  InitMaps(env, exports);
  InitRingBuffer(env, exports);
  return exports;
}

}  // namespace boxwatch

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return boxwatch::Init(env, exports); }

NODE_API_MODULE(boxwatch_core, InitAddon)

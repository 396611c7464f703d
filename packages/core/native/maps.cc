// Map operations on a map fd with caller-provided Buffers. Keys and values are raw bytes: the
// TypeScript layer owns the codecs (and the per-CPU value layout).
#include <bpf/bpf.h>

#include <cerrno>

#include "common.h"

namespace boxwatch {

namespace {

int FdArg(const Napi::CallbackInfo& info) { return info[0].As<Napi::Number>().Int32Value(); }

uint8_t* BufArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return info[i].As<Napi::Buffer<uint8_t>>().Data();
}

// mapLookup(fd, key, valueOut, flags?) → found
Napi::Value Lookup(const Napi::CallbackInfo& info) {
  uint64_t flags = info.Length() > 3 ? info[3].As<Napi::Number>().Int64Value() : 0;
  int err = bpf_map_lookup_elem_flags(FdArg(info), BufArg(info, 1), BufArg(info, 2), flags);
  if (err) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), "bpf_map_lookup_elem", errno);
  }
  return Napi::Boolean::New(info.Env(), true);
}

// mapUpdate(fd, key, value, flags)
Napi::Value Update(const Napi::CallbackInfo& info) {
  uint64_t flags = info.Length() > 3 ? info[3].As<Napi::Number>().Int64Value() : 0;
  if (bpf_map_update_elem(FdArg(info), BufArg(info, 1), BufArg(info, 2), flags))
    ThrowErrno(info.Env(), "bpf_map_update_elem", errno);
  return info.Env().Undefined();
}

// mapDelete(fd, key) → existed
Napi::Value Delete(const Napi::CallbackInfo& info) {
  if (bpf_map_delete_elem(FdArg(info), BufArg(info, 1))) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), "bpf_map_delete_elem", errno);
  }
  return Napi::Boolean::New(info.Env(), true);
}

// mapNextKey(fd, key|null, nextOut) → has next
Napi::Value NextKey(const Napi::CallbackInfo& info) {
  if (bpf_map_get_next_key(FdArg(info), BufArg(info, 1), BufArg(info, 2))) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), "bpf_map_get_next_key", errno);
  }
  return Napi::Boolean::New(info.Env(), true);
}

// mapBatch(op, fd, inBatch|null, outBatch, keys, values, count) → { count, done }
//   op "lookup" or "lookupAndDelete". done = the map has no more entries after this batch.
Napi::Value Batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string op = info[0].As<Napi::String>().Utf8Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  void* in = info[2].IsNull() ? nullptr : info[2].As<Napi::Buffer<uint8_t>>().Data();
  void* out = info[3].As<Napi::Buffer<uint8_t>>().Data();
  void* keys = info[4].As<Napi::Buffer<uint8_t>>().Data();
  void* values = info[5].As<Napi::Buffer<uint8_t>>().Data();
  uint32_t count = info[6].As<Napi::Number>().Uint32Value();
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int err = op == "lookupAndDelete" ? bpf_map_lookup_and_delete_batch(fd, in, out, keys, values, &count, &opts)
                                    : bpf_map_lookup_batch(fd, in, out, keys, values, &count, &opts);
  bool done = false;
  if (err) {
    // ENOENT: this was the last batch (count may still be > 0).
    if (errno == ENOENT) done = true;
    else ThrowErrno(env, "bpf_map_" + op + "_batch", errno);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("count", Napi::Number::New(env, count));
  r.Set("done", Napi::Boolean::New(env, done));
  return r;
}

}  // namespace

Napi::Object InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, Lookup));
  exports.Set("mapUpdate", Napi::Function::New(env, Update));
  exports.Set("mapDelete", Napi::Function::New(env, Delete));
  exports.Set("mapNextKey", Napi::Function::New(env, NextKey));
  exports.Set("mapBatch", Napi::Function::New(env, Batch));
  return exports;
}

}  // namespace boxwatch

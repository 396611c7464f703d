// BpfObject: a libbpf bpf_object (open → configure → load → attach) and Link, an attachment that
// detaches on close(). Both close idempotently; the finalizer closes what JS forgot.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common.h"

namespace boxwatch {

namespace {

class Link : public Napi::ObjectWrap<Link> {
 public:
  static Napi::FunctionReference* constructor;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Link",
                       {InstanceMethod("close", &Link::Close), InstanceMethod("fd", &Link::Fd)});
  }

  static Napi::Object Wrap(Napi::Env env, struct bpf_link* link) {
    Napi::Object obj = constructor->New({});
    Link::Unwrap(obj)->link_ = link;
    return obj;
  }

  explicit Link(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Link>(info) {}
  ~Link() override { Destroy(); }

 private:
  void Destroy() {
    if (link_) {
      bpf_link__destroy(link_);
      link_ = nullptr;
    }
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Destroy();
    return info.Env().Undefined();
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), link_ ? bpf_link__fd(link_) : -1);
  }
  struct bpf_link* link_ = nullptr;
};

Napi::FunctionReference* Link::constructor = nullptr;

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           InstanceMethod("programs", &BpfObject::Programs),
                           InstanceMethod("maps", &BpfObject::Maps),
                           InstanceMethod("setAutoload", &BpfObject::SetAutoload),
                           InstanceMethod("dataVars", &BpfObject::DataVars),
                           InstanceMethod("setInitialValue", &BpfObject::SetInitialValue),
                           InstanceMethod("setMapMaxEntries", &BpfObject::SetMapMaxEntries),
                           InstanceMethod("load", &BpfObject::Load),
                           InstanceMethod("mapFd", &BpfObject::MapFd),
                           InstanceMethod("progFd", &BpfObject::ProgFd),
                           InstanceMethod("progInfo", &BpfObject::ProgInfo),
                           InstanceMethod("attach", &BpfObject::Attach),
                           InstanceMethod("close", &BpfObject::Close),
                       });
  }

  // new BpfObject(pathOrBuffer, name?)
  explicit BpfObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BpfObject>(info) {
    Napi::Env env = info.Env();
    std::string name = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    LIBBPF_OPTS(bpf_object_open_opts, opts);
    if (!name.empty()) opts.object_name = name.c_str();
    BeginLogCapture();
    if (info[0].IsBuffer()) {
      auto buf = info[0].As<Napi::Buffer<uint8_t>>();
      // libbpf copies the ELF image, the buffer may be released afterwards.
      obj_ = bpf_object__open_mem(buf.Data(), buf.Length(), &opts);
    } else if (info[0].IsString()) {
      std::string path = info[0].As<Napi::String>().Utf8Value();
      obj_ = bpf_object__open_file(path.c_str(), &opts);
    } else {
      EndLogCapture();
      throw Napi::TypeError::New(env, "BpfObject: expected a path or a Buffer");
    }
    std::string log = EndLogCapture();
    int err = libbpf_get_error(obj_);
    if (err) {
      obj_ = nullptr;
      ThrowErrno(env, "bpf_object__open", err, log);
    }
  }

  ~BpfObject() override { Destroy(); }

 private:
  void Destroy() {
    if (obj_) {
      // Links are separate kernel objects holding their own program reference; they stay
      // attached until closed even after the object is gone.
      bpf_object__close(obj_);
      obj_ = nullptr;
    }
  }

  struct bpf_object* Obj(Napi::Env env) {
    if (!obj_) throw Napi::Error::New(env, "BpfObject is closed");
    return obj_;
  }

  struct bpf_program* Prog(Napi::Env env, const std::string& name) {
    struct bpf_program* p = bpf_object__find_program_by_name(Obj(env), name.c_str());
    if (!p) throw Napi::Error::New(env, "no program named '" + name + "' in the object");
    return p;
  }

  struct bpf_map* Map(Napi::Env env, const std::string& name) {
    struct bpf_map* m = bpf_object__find_map_by_name(Obj(env), name.c_str());
    if (!m) throw Napi::Error::New(env, "no map named '" + name + "' in the object");
    return m;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    struct bpf_program* p;
    uint32_t i = 0;
    bpf_object__for_each_program(p, Obj(env)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      o.Set("type", Napi::Number::New(env, bpf_program__type(p)));
      o.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(p)));
      o.Set("fd", Napi::Number::New(env, bpf_program__fd(p)));
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    struct bpf_map* m;
    uint32_t i = 0;
    bpf_object__for_each_map(m, Obj(env)) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_map__name(m));
      o.Set("type", Napi::Number::New(env, bpf_map__type(m)));
      o.Set("keySize", Napi::Number::New(env, bpf_map__key_size(m)));
      o.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(m)));
      o.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(m)));
      o.Set("fd", Napi::Number::New(env, bpf_map__fd(m)));
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value SetAutoload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* p = Prog(env, info[0].As<Napi::String>().Utf8Value());
    int err = bpf_program__set_autoload(p, info[1].ToBoolean().Value());
    if (err) ThrowErrno(env, "bpf_program__set_autoload", err);
    return env.Undefined();
  }

  // Variables of the global data sections (.rodata, .data, .bss and named .rodata.* / .data.*),
  // read from BTF DATASEC records: [{ name, section, offset, size }].
  Napi::Value DataVars(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    struct btf* btf = bpf_object__btf(Obj(env));
    if (!btf) return out;
    uint32_t n = btf__type_cnt(btf), k = 0;
    for (uint32_t id = 1; id < n; id++) {
      const struct btf_type* t = btf__type_by_id(btf, id);
      if (!btf_is_datasec(t)) continue;
      const char* sec = btf__name_by_offset(btf, t->name_off);
      // Only global data sections hold variables a user can set (.maps and license do not).
      std::string s(sec ? sec : "");
      if (s.rfind(".rodata", 0) != 0 && s.rfind(".data", 0) != 0 && s.rfind(".bss", 0) != 0) continue;
      const struct btf_var_secinfo* vs = btf_var_secinfos(t);
      for (uint16_t j = 0; j < btf_vlen(t); j++, vs++) {
        const struct btf_type* var = btf__type_by_id(btf, vs->type);
        Napi::Object o = Napi::Object::New(env);
        o.Set("name", btf__name_by_offset(btf, var->name_off));
        o.Set("section", sec);
        o.Set("offset", Napi::Number::New(env, vs->offset));
        o.Set("size", Napi::Number::New(env, vs->size));
        out.Set(k++, o);
      }
    }
    return out;
  }

  // setInitialValue(mapName, offset, bytes): patch the initial contents of a global data map
  // (e.g. ".rodata") before load. libbpf 1.1 has no per-variable setter, so copy, patch, set.
  Napi::Value SetInitialValue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* m = Map(env, info[0].As<Napi::String>().Utf8Value());
    uint32_t offset = info[1].As<Napi::Number>().Uint32Value();
    auto data = info[2].As<Napi::Buffer<uint8_t>>();
    size_t size = 0;
    const void* cur = bpf_map__initial_value(m, &size);
    if (!cur) throw Napi::Error::New(env, "map has no initial value (not a global data section?)");
    if (static_cast<size_t>(offset) + data.Length() > size)
      throw Napi::RangeError::New(env, "initial value write past the end of the section");
    std::vector<uint8_t> copy(static_cast<const uint8_t*>(cur), static_cast<const uint8_t*>(cur) + size);
    std::memcpy(copy.data() + offset, data.Data(), data.Length());
    int err = bpf_map__set_initial_value(m, copy.data(), size);
    if (err) ThrowErrno(env, "bpf_map__set_initial_value", err);
    return env.Undefined();
  }

  Napi::Value SetMapMaxEntries(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* m = Map(env, info[0].As<Napi::String>().Utf8Value());
    int err = bpf_map__set_max_entries(m, info[1].As<Napi::Number>().Uint32Value());
    if (err) ThrowErrno(env, "bpf_map__set_max_entries", err);
    return env.Undefined();
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    BeginLogCapture();
    int err = bpf_object__load(Obj(env));
    std::string log = EndLogCapture();
    if (err) ThrowErrno(env, "bpf_object__load", err, log);
    return env.Undefined();
  }

  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, bpf_map__fd(Map(env, info[0].As<Napi::String>().Utf8Value())));
  }

  Napi::Value ProgFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, bpf_program__fd(Prog(env, info[0].As<Napi::String>().Utf8Value())));
  }

  // progInfo(name) → { verifiedInsns, xlatedLen, jitedLen, runTimeNs, runCnt } of a loaded program
  // (run time and count are only collected while BPF stats are enabled: sysctl kernel.bpf_stats_enabled).
  Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = bpf_program__fd(Prog(env, info[0].As<Napi::String>().Utf8Value()));
    if (fd < 0) throw Napi::Error::New(env, "program is not loaded");
    struct bpf_prog_info pi;
    std::memset(&pi, 0, sizeof(pi));
    __u32 len = sizeof(pi);
    if (bpf_obj_get_info_by_fd(fd, &pi, &len)) ThrowErrno(env, "bpf_obj_get_info_by_fd", errno);
    Napi::Object o = Napi::Object::New(env);
    o.Set("verifiedInsns", Napi::Number::New(env, pi.verified_insns));
    o.Set("xlatedLen", Napi::Number::New(env, pi.xlated_prog_len));
    o.Set("jitedLen", Napi::Number::New(env, pi.jited_prog_len));
    o.Set("runTimeNs", Napi::Number::New(env, static_cast<double>(pi.run_time_ns)));
    o.Set("runCnt", Napi::Number::New(env, static_cast<double>(pi.run_cnt)));
    // Runs skipped because the program was already running on this CPU (e.g. a tracepoint hit
    // from inside another BPF program): events silently missing otherwise.
    o.Set("recursionMisses", Napi::Number::New(env, static_cast<double>(pi.recursion_misses)));
    return o;
  }

  // attach(programName, { kind?, target?, retprobe?, cgroupPath? }) → Link
  //   kind "auto" (default): by section name (tp_btf, raw_tp, tracepoint, kprobe, ...)
  //   kind "kprobe": target = kernel function, retprobe = bool
  //   kind "tracepoint": target = "category/name"
  //   kind "raw_tp": target = tracepoint name
  //   kind "cgroup": cgroupPath = cgroup directory (cgroup_skb, sock_ops, ...)
  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto* p = Prog(env, info[0].As<Napi::String>().Utf8Value());
    Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    std::string kind = opts.Has("kind") ? opts.Get("kind").ToString().Utf8Value() : "auto";
    std::string target = opts.Has("target") ? opts.Get("target").ToString().Utf8Value() : "";
    struct bpf_link* link = nullptr;
    BeginLogCapture();
    if (kind == "auto") {
      link = bpf_program__attach(p);
    } else if (kind == "kprobe") {
      bool ret = opts.Has("retprobe") && opts.Get("retprobe").ToBoolean().Value();
      link = bpf_program__attach_kprobe(p, ret, target.c_str());
    } else if (kind == "tracepoint") {
      size_t slash = target.find('/');
      if (slash == std::string::npos) {
        EndLogCapture();
        throw Napi::Error::New(env, "tracepoint target must be 'category/name'");
      }
      link = bpf_program__attach_tracepoint(p, target.substr(0, slash).c_str(), target.substr(slash + 1).c_str());
    } else if (kind == "raw_tp") {
      link = bpf_program__attach_raw_tracepoint(p, target.c_str());
    } else if (kind == "cgroup") {
      std::string path = opts.Get("cgroupPath").ToString().Utf8Value();
      int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) {
        int e = errno;
        EndLogCapture();
        ThrowErrno(env, "open cgroup " + path, e);
      }
      link = bpf_program__attach_cgroup(p, fd);
      close(fd);  // the link holds its own reference to the cgroup
    } else {
      EndLogCapture();
      throw Napi::Error::New(env, "unknown attach kind '" + kind + "'");
    }
    std::string log = EndLogCapture();
    int err = libbpf_get_error(link);
    if (!link || err) ThrowErrno(env, std::string("attach ") + bpf_program__name(p), err ? err : errno, log);
    return Link::Wrap(env, link);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Destroy();
    return info.Env().Undefined();
  }

  struct bpf_object* obj_ = nullptr;
};

}  // namespace

Napi::Object InitBpfObject(Napi::Env env, Napi::Object exports) {
  Napi::Function link = Link::Define(env);
  Link::constructor = new Napi::FunctionReference(Napi::Persistent(link));
  exports.Set("Link", link);
  exports.Set("BpfObject", BpfObject::Define(env));
  return exports;
}

}  // namespace boxwatch

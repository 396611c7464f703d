// RingBuffer: consumes a BPF ring buffer on the JS thread. A uv_poll on libbpf's epoll fd wakes us
// when the kernel forces a wakeup (buffer past its fill threshold); a uv_timer drains every
// drainMs otherwise (producers submit without wakeups, see bpf/include/boxwatch/common.h).
//
// Records are copied into one reusable ArrayBuffer as frames [u32 length][u32 reserved][bytes,
// padded to 8] and handed to JS in one call per batch: (buffer, usedBytes, recordCount). The JS
// side must decode synchronously; the buffer is overwritten by the next batch.
//
// libbpf 1.1's ring_buffer__consume drains until the ring is empty, which never happens while a
// producer outpaces a slow handler: the event loop would starve. Each drain is therefore a slice
// of at most maxRecordsPerSlice records (the sample callback returns -1 after copying the last
// one, which libbpf treats as "stop, record consumed"); the rest continues on the next loop turn.
#include <bpf/libbpf.h>
#include <uv.h>

#include <cstring>

#include "common.h"

namespace boxwatch {

namespace {

constexpr uint32_t kFrameHeader = 8;

inline uint32_t Align8(uint32_t n) { return (n + 7u) & ~7u; }

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {
                           InstanceMethod("pause", &RingBuffer::Pause),
                           InstanceMethod("resume", &RingBuffer::Resume),
                           InstanceMethod("drain", &RingBuffer::Drain),
                           InstanceMethod("close", &RingBuffer::Close),
                           InstanceMethod("stats", &RingBuffer::Stats),
                       });
  }

  // new RingBuffer(mapFd, onBatch, { batchBytes, drainMs })
  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    int map_fd = info[0].As<Napi::Number>().Int32Value();
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    Napi::Object opts = info[2].As<Napi::Object>();
    capacity_ = opts.Get("batchBytes").As<Napi::Number>().Uint32Value();
    drain_ms_ = opts.Get("drainMs").As<Napi::Number>().Uint32Value();
    if (opts.Has("maxRecordsPerSlice")) slice_limit_ = opts.Get("maxRecordsPerSlice").As<Napi::Number>().Uint32Value();
    if (slice_limit_ == 0) slice_limit_ = 1;
    if (capacity_ < 64) throw Napi::RangeError::New(env, "batchBytes must be at least 64");

    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, capacity_);
    data_ = static_cast<uint8_t*>(ab.Data());
    buffer_ = Napi::Persistent(ab);

    BeginLogCapture();
    rb_ = ring_buffer__new(map_fd, &RingBuffer::OnSample, this, nullptr);
    std::string log = EndLogCapture();
    int err = libbpf_get_error(rb_);
    if (!rb_ || err) {
      rb_ = nullptr;
      ThrowErrno(env, "ring_buffer__new", err ? err : errno, log);
    }

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    poll_->data = this;
    timer_ = new uv_timer_t;
    uv_timer_init(loop, timer_);
    timer_->data = this;
    again_ = new uv_timer_t;
    uv_timer_init(loop, again_);
    again_->data = this;
    Start();
    Ref();  // stay alive while consuming, even if JS drops its reference
  }

  ~RingBuffer() override { Teardown(); }

 private:
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    self->Append(static_cast<const uint8_t*>(data), static_cast<uint32_t>(size));
    // Past the slice budget: stop here. libbpf has already advanced past this record, and we
    // have copied it, so nothing is lost.
    return ++self->slice_count_ >= self->slice_limit_ ? -1 : 0;
  }

  void Append(const uint8_t* data, uint32_t size) {
    uint32_t frame = kFrameHeader + Align8(size);
    if (frame > capacity_) {  // cannot be framed at all: count it, never drop silently
      oversized_++;
      return;
    }
    if (used_ + frame > capacity_) Flush();
    uint8_t* p = data_ + used_;
    std::memcpy(p, &size, 4);
    std::memset(p + 4, 0, 4);
    std::memcpy(p + kFrameHeader, data, size);
    used_ += frame;
    count_++;
  }

  void Flush() {
    if (count_ == 0) return;
    uint32_t used = used_, count = count_;
    used_ = 0;
    count_ = 0;
    records_ += count;
    batches_++;
    Napi::HandleScope scope(env_);
    try {
      callback_.MakeCallback(Value(), {buffer_.Value(), Napi::Number::New(env_, used), Napi::Number::New(env_, count)});
    } catch (const Napi::Error& e) {
      // The TypeScript wrapper catches decoder errors itself; anything reaching here is a bug
      // in it. Surface it as an uncaught exception rather than lose it.
      napi_fatal_exception(env_, e.Value());
    }
  }

  // One slice; returns the records consumed and whether the budget ran out (more may be waiting).
  uint32_t ConsumeSlice(bool* exhausted) {
    *exhausted = false;
    if (!rb_ || closed_) return 0;
    slice_count_ = 0;
    in_consume_++;
    int rc = ring_buffer__consume(rb_);
    in_consume_--;
    uint32_t n = slice_count_;
    *exhausted = rc < 0 && slice_count_ >= slice_limit_;
    if (!closed_) Flush();
    if (closed_ && in_consume_ == 0) Teardown();
    return n;
  }

  // From the poll and timers: one slice, and a continuation on the next loop turn if needed.
  void ConsumeScheduled() {
    bool exhausted = false;
    ConsumeSlice(&exhausted);
    if (exhausted && again_ && running_ && !closed_) {
      slices_deferred_++;
      uv_timer_start(again_, &RingBuffer::OnTimer, 0, 0);
    }
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    if (h->data) static_cast<RingBuffer*>(h->data)->ConsumeScheduled();
  }

  static void OnTimer(uv_timer_t* h) {
    if (h->data) static_cast<RingBuffer*>(h->data)->ConsumeScheduled();
  }

  void Start() {
    if (running_ || closed_) return;
    uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnPoll);
    uv_timer_start(timer_, &RingBuffer::OnTimer, drain_ms_, drain_ms_);
    running_ = true;
  }

  void Stop() {
    if (!running_) return;
    uv_poll_stop(poll_);
    uv_timer_stop(timer_);
    uv_timer_stop(again_);
    running_ = false;
  }

  void Teardown() {
    Stop();
    if (poll_) {
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    for (uv_timer_t** t : {&timer_, &again_}) {
      if (!*t) continue;
      (*t)->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(*t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      *t = nullptr;
    }
    if (rb_) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
    // Let the batch buffer and the callback (and whatever it closes over) be collected now
    // rather than when this wrapper is.
    data_ = nullptr;
    if (!buffer_.IsEmpty()) buffer_.Reset();
    if (!callback_.IsEmpty()) callback_.Reset();
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }
  Napi::Value Resume(const Napi::CallbackInfo& info) {
    Start();
    return info.Env().Undefined();
  }
  // drain(maxSlices = 1): consume up to maxSlices slices now; returns the records consumed.
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    uint32_t max_slices = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 1;
    double total = 0;
    for (uint32_t i = 0; i < max_slices; i++) {
      bool exhausted = false;
      total += ConsumeSlice(&exhausted);
      if (!exhausted) break;
    }
    return Napi::Number::New(info.Env(), total);
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      closed_ = true;
      Stop();
      if (in_consume_ == 0) Teardown();  // else ConsumeNow tears down when libbpf returns
      Unref();
    }
    return info.Env().Undefined();
  }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("records", Napi::Number::New(env, static_cast<double>(records_)));
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
    o.Set("oversized", Napi::Number::New(env, static_cast<double>(oversized_)));
    o.Set("slicesDeferred", Napi::Number::New(env, static_cast<double>(slices_deferred_)));
    return o;
  }

  Napi::Env env_;
  Napi::FunctionReference callback_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  uint8_t* data_ = nullptr;
  uint32_t capacity_ = 0, used_ = 0, count_ = 0, drain_ms_ = 10;
  uint64_t records_ = 0, batches_ = 0, oversized_ = 0, slices_deferred_ = 0;
  uint32_t slice_limit_ = 65536, slice_count_ = 0;
  struct ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uv_timer_t* again_ = nullptr;  // continuation of a drain that hit its slice budget
  bool running_ = false, closed_ = false;
  int in_consume_ = 0;
};

}  // namespace

Napi::Object InitRingBuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("RingBuffer", RingBuffer::Define(env));
  return exports;
}

}  // namespace boxwatch

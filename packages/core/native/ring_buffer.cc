// RingBuffer: consumes a BPF ring buffer. By default a native drain thread stages the records
// (below); with stagingBytes = 0 the JS thread reads them in the kernel's ring, without a copy.
//
// Reading in place: the ring's data pages are mapped twice back to back by the kernel, so every record is contiguous
// in our mapping even when it wraps. JS gets one ArrayBuffer over that mapping (2 x ring size) and
// reads the records where the producer wrote them: per batch one JS call (buffer, start, end,
// records) covering committed records [start, end) in the kernel's own framing,
// [u32 len | busy/discard bits][u32 page offset][bytes, padded to 8]. Only after JS returns is the
// consumer position advanced (once per batch, not per record: every store to it invalidates the
// line the producers read on each reservation), so the producer cannot overwrite a record that JS
// is still reading. libbpf's ring_buffer__consume copies nothing itself but costs a callback and a
// consumer-position store per record, and a copy into a batch buffer then costs a cross-CPU cache
// miss per record plus a second pass over a buffer larger than L2; reading in place does neither
// (staging pays that miss, ~13-16 ns per record, for the headroom it buys).
//
// Wakeups when reading in place: producers submit without wakeups (see bpf/include/boxwatch/common.h) and a uv_timer
// drains every drainMs; a producer that finds the buffer past its fill threshold forces a wakeup,
// which reaches us through an edge-triggered epoll on the map fd. Edge-triggered because the map
// fd is "readable" whenever any record is unconsumed: level-triggered polling would turn the
// timer's batching into a busy loop of tiny batches under a steady producer.
//
// Staging (the default): a native drain thread copies committed records out of the kernel's ring
// into a larger userspace buffer (also mapped twice, so records stay contiguous, in the kernel's own
// framing) and gives the kernel its space back at once; JS then reads the staging buffer exactly as
// it would read the ring. Copying costs the thread ~10-20 ns per record, but the kernel ring's
// headroom no longer depends on the JS thread: a garbage collection, a long handler or a busy
// detector on the JS thread used to leave the ring undrained for milliseconds, and records were
// lost although the consumer kept up on average. With the staging buffer full the thread stops
// copying (records wait in the kernel ring, and the kernel counts what it then cannot reserve), and
// JS wakes it through an eventfd once it has freed space. The thread asks for SCHED_FIFO 1 so a
// producer's wakeup gets it on a CPU at once, and a quiet ring lets it stop its timer (the ring's
// `<name>_idle` flag, see DrainThread).
//
// Bounded work per loop turn: a drain is a slice of at most maxRecordsPerSlice records (a producer
// that outpaces a slow handler must not starve timers and I/O); the rest continues on the next
// loop turn. A batch holds at most 1/16 of the ring, so the space JS is still reading stays small.
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <uv.h>
#include <fcntl.h>
#include <unistd.h>

#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "common.h"

namespace boxwatch {

namespace {

inline uint32_t Align8(uint32_t n) { return (n + 7u) & ~7u; }

// The record header at `pos` in a ring (or staging) mapping: its length word, read with acquire so
// the record's bytes are visible once it says committed.
inline uint32_t RecordWord(const uint8_t* data, unsigned long mask, unsigned long pos) {
  return __atomic_load_n(reinterpret_cast<const uint32_t*>(data + (pos & mask)), __ATOMIC_ACQUIRE);
}

// Bytes a record takes in the ring: header + data, padded to 8.
inline uint32_t RecordBytes(uint32_t word) {
  return Align8((word & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ);
}

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

  // new RingBuffer(mapFd, onBatch, { drainMs, maxRecordsPerSlice })
  explicit RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    int map_fd = info[0].As<Napi::Number>().Int32Value();
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    Napi::Object opts = info[2].As<Napi::Object>();
    drain_ms_ = opts.Get("drainMs").As<Napi::Number>().Uint32Value();
    if (opts.Has("maxRecordsPerSlice")) slice_limit_ = opts.Get("maxRecordsPerSlice").As<Napi::Number>().Uint32Value();
    if (slice_limit_ == 0) slice_limit_ = 1;
    // stagingBytes: absent = default (the larger of 4 MiB and the ring), 0 = read in place.
    int64_t staging = -1;
    if (opts.Has("stagingBytes") && opts.Get("stagingBytes").IsNumber()) staging = opts.Get("stagingBytes").As<Napi::Number>().Int64Value();
    // The ring's `<name>_idle` flag map (absent for objects built before it): lets the thread idle.
    if (opts.Has("idleMapFd") && opts.Get("idleMapFd").IsNumber()) {
      int f = opts.Get("idleMapFd").As<Napi::Number>().Int32Value();
      idle_fd_ = f >= 0 ? fcntl(f, F_DUPFD_CLOEXEC, 0) : -1;  // ours: the object may close its fd first
    }
    bool realtime = !(opts.Has("realtimeDrain") && opts.Get("realtimeDrain").IsBoolean() && !opts.Get("realtimeDrain").As<Napi::Boolean>().Value());

    struct bpf_map_info map_info = {};
    uint32_t info_len = sizeof(map_info);
    if (bpf_obj_get_info_by_fd(map_fd, &map_info, &info_len) != 0) ThrowErrno(env, "bpf_obj_get_info_by_fd", errno);
    if (map_info.type != BPF_MAP_TYPE_RINGBUF) ThrowErrno(env, "ring buffer: map is not BPF_MAP_TYPE_RINGBUF", EINVAL);
    size_ = map_info.max_entries;
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));

    // Our own fd: the map's fd belongs to the BpfObject, which may close it before us.
    fd_ = fcntl(map_fd, F_DUPFD_CLOEXEC, 0);
    if (fd_ < 0) ThrowErrno(env, "dup ring buffer fd", errno);
    void* cons = mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (cons == MAP_FAILED) Fail(env, "mmap ring buffer consumer page");
    consumer_pos_ = static_cast<unsigned long*>(cons);
    // The producer page, then the data pages twice (read-only for user space).
    prod_len_ = page_ + 2 * static_cast<size_t>(size_);
    void* prod = mmap(nullptr, prod_len_, PROT_READ, MAP_SHARED, fd_, page_);
    if (prod == MAP_FAILED) Fail(env, "mmap ring buffer data pages");
    producer_pos_ = static_cast<unsigned long*>(prod);
    data_ = static_cast<uint8_t*>(prod) + page_;

    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) Fail(env, "epoll_create1");
    struct epoll_event ev = {};
    ev.events = EPOLLIN | EPOLLET;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev) != 0) Fail(env, "epoll_ctl ring buffer");

    // What JS reads: the kernel's ring itself, or the staging buffer the drain thread fills.
    src_cons_ = consumer_pos_;
    src_prod_ = producer_pos_;
    src_data_ = data_;
    src_size_ = size_;
    if (staging != 0) {
      // A given size was validated by the TypeScript wrapper (a power of two, 4 KiB..2 GiB).
      MapStaging(env, staging > 0 ? static_cast<uint64_t>(staging) : (size_ > kDefaultStaging ? size_ : kDefaultStaging));
      src_cons_ = &staging_cons_;
      src_prod_ = &staging_prod_;
      src_data_ = staging_;
      src_size_ = staging_size_;
    }
    batch_bytes_limit_ = src_size_ / 16 < 4096 ? 4096 : src_size_ / 16;

    // No finalizer: the mapping is ours and is unmapped in Teardown, after the buffer is detached
    // (a view JS kept past close then throws instead of reading unmapped memory).
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, src_data_, 2 * static_cast<size_t>(src_size_));
    buffer_ = Napi::Persistent(ab);

    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    if (staging_) {
      async_ = new uv_async_t;
      uv_async_init(loop, async_, &RingBuffer::OnAsync);
      async_->data = this;
    } else {
      poll_ = new uv_poll_t;
      uv_poll_init(loop, poll_, epoll_fd_);
      poll_->data = this;
    }
    timer_ = new uv_timer_t;
    uv_timer_init(loop, timer_);
    timer_->data = this;
    again_ = new uv_timer_t;
    uv_timer_init(loop, again_);
    again_->data = this;
    Start();
    if (staging_) {
      thread_ = std::thread(&RingBuffer::DrainThread, this);
      pthread_setname_np(thread_.native_handle(), "bw-ring-drain");  // as top -H and perf show it
      if (realtime) {
        // SCHED_FIFO 1 (like perf record -r): a woken drain thread preempts the producers at once
        // instead of queueing behind them; its work per wakeup is one copy, bounded by the ring.
        // Needs CAP_SYS_NICE (and RT runtime in its cgroup); without it, normal priority.
        struct sched_param sp = {};
        sp.sched_priority = 1;
        realtime_ = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &sp) == 0;
      }
    }
    Ref();  // stay alive while consuming, even if JS drops its reference
  }

  // Only reached after close() (Ref() keeps an open reader alive) or at environment teardown,
  // when JS is gone and there is nothing left to detach.
  ~RingBuffer() override { Teardown(false); }

 private:
  [[noreturn]] void Fail(Napi::Env env, const char* what) {
    int err = errno;
    Teardown();
    ThrowErrno(env, what, err);
  }

  static constexpr uint64_t kDefaultStaging = 4ull << 20;

  // The staging buffer: a memfd mapped twice back to back (like the kernel's ring), and the eventfd
  // through which JS wakes the drain thread when it has freed space (or asks it to stop).
  void MapStaging(Napi::Env env, uint64_t bytes) {
    int mfd = memfd_create("boxwatch-ring-staging", MFD_CLOEXEC);
    if (mfd < 0) Fail(env, "memfd_create ring buffer staging");
    if (ftruncate(mfd, static_cast<off_t>(bytes)) != 0) {
      int err = errno;
      close(mfd);
      errno = err;
      Fail(env, "ftruncate ring buffer staging");
    }
    void* base = mmap(nullptr, 2 * bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bool ok = base != MAP_FAILED;
    if (ok) {
      staging_ = static_cast<uint8_t*>(base);
      staging_size_ = bytes;
      for (int i = 0; i < 2 && ok; i++)
        ok = mmap(staging_ + i * bytes, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd, 0) != MAP_FAILED;
    }
    int err = errno;
    close(mfd);
    errno = err;
    if (!ok) Fail(env, "mmap ring buffer staging");
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0) Fail(env, "eventfd ring buffer staging");
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.fd = event_fd_;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) != 0) Fail(env, "epoll_ctl ring buffer staging");
  }

  // The drain thread: woken by the producers' forced wakeups, by JS freeing staging space, or
  // every drainMs; copies what is committed and tells the JS thread. While the staging buffer is
  // full it waits for JS alone: producers force a wakeup on every submission past the ring's
  // threshold, and answering those with nothing to do would take CPU from the JS thread that has
  // to make room.
  void DrainThread() {
    struct epoll_event evs[2];
    int empty_ticks = 0;
    bool idle = false;
    while (!__atomic_load_n(&thread_stop_, __ATOMIC_ACQUIRE)) {
      if (__atomic_load_n(&want_space_, __ATOMIC_SEQ_CST)) {
        struct pollfd pfd = {event_fd_, POLLIN, 0};
        if (poll(&pfd, 1, static_cast<int>(drain_ms_)) > 0) ClearEventFd();
        if (__atomic_load_n(&thread_stop_, __ATOMIC_ACQUIRE)) break;
        CopyAndNotify();
        continue;
      }
      int n = epoll_wait(epoll_fd_, evs, 2, idle ? kIdleCheckMs : static_cast<int>(drain_ms_));
      for (int i = 0; i < n; i++) {
        if (evs[i].data.fd == event_fd_) {
          ClearEventFd();
        } else {
          __atomic_add_fetch(&wakeups_, 1, __ATOMIC_RELAXED);
        }
      }
      if (__atomic_load_n(&thread_stop_, __ATOMIC_ACQUIRE)) break;
      if (idle) {
        // The check tick finds nothing in the common case: stay idle without a word to the kernel.
        if (n == 0 && !KernelHasRecords()) continue;
        SetIdle(false);  // woken by a first record: back to draining on the timer
        idle = false;
      }
      size_t copied = CopyAndNotify();
      if (copied > 0 || KernelHasRecords()) {
        empty_ticks = 0;
        continue;
      }
      if (idle_fd_ < 0 || ++empty_ticks < kIdleAfterTicks) continue;
      // Quiet for a few ticks: let the next record wake us and stop the timer. A record submitted
      // before the producers saw the flag did not wake us: look once more after setting it.
      empty_ticks = 0;
      SetIdle(true);
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      if (KernelHasRecords()) {
        SetIdle(false);
        continue;
      }
      idle = true;
    }
    if (idle) SetIdle(false);
  }

  void ClearEventFd() {
    uint64_t v;
    while (read(event_fd_, &v, sizeof(v)) > 0) {
    }
  }

  // The thread's copy: staged records are announced to the JS thread. Returns bytes copied.
  size_t CopyAndNotify() {
    size_t copied;
    {
      std::lock_guard<std::mutex> guard(copy_mu_);
      copied = CopyCommitted();
    }
    if (copied > 0) uv_async_send(async_);
    return copied;
  }

  // Empty drain ticks in a row before the thread goes idle, and how often an idle thread still
  // looks (a record whose producer read the flag just before it was set, and so submitted without
  // a wakeup, waits at most this long).
  static constexpr int kIdleAfterTicks = 3;
  static constexpr int kIdleCheckMs = 250;

  // The ring's `<name>_idle` flag: 1 makes producers submit below the threshold with flags 0, so
  // the kernel wakes us for the record at our position. The map update is a syscall: it orders
  // our flag store before the KernelHasRecords() check that follows it.
  void SetIdle(bool on) {
    uint32_t zero = 0, v = on ? 1 : 0;
    if (bpf_map_update_elem(idle_fd_, &zero, &v, BPF_ANY) == 0 && on) __atomic_add_fetch(&idle_spells_, 1, __ATOMIC_RELAXED);
  }

  // Moves committed records from the kernel's ring to the staging buffer, as far as the staging
  // buffer has room, and gives the ring's space back. Both are mapped twice, so a run of records
  // is one memcpy even when it wraps either buffer. Caller holds copy_mu_. Returns bytes copied.
  size_t CopyCommitted() {
    if (!staging_ || !data_) return 0;
    const unsigned long kmask = size_ - 1, smask = staging_size_ - 1;
    unsigned long kcons = __atomic_load_n(consumer_pos_, __ATOMIC_RELAXED);
    unsigned long sprod = __atomic_load_n(&staging_prod_, __ATOMIC_RELAXED);
    size_t total = 0;
    for (;;) {
      const unsigned long kprod = __atomic_load_n(producer_pos_, __ATOMIC_ACQUIRE);
      const unsigned long scons = __atomic_load_n(&staging_cons_, __ATOMIC_SEQ_CST);
      const unsigned long room = staging_size_ - (sprod - scons);
      unsigned long pos = kcons;
      bool full = false;
      while (pos < kprod) {
        uint32_t word = RecordWord(data_, kmask, pos);
        if (word & BPF_RINGBUF_BUSY_BIT) break;
        unsigned long rec = RecordBytes(word);
        if (pos + rec - kcons > room) {
          full = true;
          break;
        }
        pos += rec;
      }
      if (pos > kcons) {
        std::memcpy(staging_ + (sprod & smask), data_ + (kcons & kmask), pos - kcons);
        __atomic_store_n(consumer_pos_, pos, __ATOMIC_RELEASE);  // the producers may reuse it now
        sprod += pos - kcons;
        __atomic_store_n(&staging_prod_, sprod, __ATOMIC_RELEASE);
        total += pos - kcons;
        kcons = pos;
      }
      if (!full) break;  // one pass: what producers commit meanwhile waits for the next wakeup
      // Staging is full: ask JS to wake us when it frees space. Check again after asking, so space
      // freed in between is not missed (JS stores its position, then reads want_space_).
      if (!__atomic_exchange_n(&want_space_, true, __ATOMIC_SEQ_CST)) __atomic_add_fetch(&staging_full_, 1, __ATOMIC_RELAXED);
      if (__atomic_load_n(&staging_cons_, __ATOMIC_SEQ_CST) == scons) break;
    }
    return total;
  }

  bool KernelHasRecords() const {
    return consumer_pos_ && __atomic_load_n(consumer_pos_, __ATOMIC_ACQUIRE) < __atomic_load_n(producer_pos_, __ATOMIC_ACQUIRE);
  }

  void WakeThread() {
    uint64_t one = 1;
    ssize_t w = write(event_fd_, &one, sizeof(one));
    (void)w;  // EAGAIN: the counter is already non-zero, the thread wakes anyway
  }

  void StopThread() {
    if (!thread_.joinable()) return;
    __atomic_store_n(&thread_stop_, true, __ATOMIC_RELEASE);
    WakeThread();
    thread_.join();
  }

  // Hands committed records to JS in batches until the slice budget is spent, the ring is empty or
  // the next record is still being written. Returns the records delivered; *exhausted says the
  // budget ran out (more may be waiting).
  uint32_t ConsumeSlice(bool* exhausted) {
    *exhausted = false;
    if (closed_ || !src_data_ || in_consume_ > 0) return 0;  // re-entrant drain from a handler: no-op
    in_consume_++;
    slice_bytes_ = 0;
    uint32_t delivered = 0;
    unsigned long cons = __atomic_load_n(src_cons_, __ATOMIC_RELAXED);
    const unsigned long mask = src_size_ - 1;
    while (!closed_) {
      unsigned long prod = __atomic_load_n(src_prod_, __ATOMIC_ACQUIRE);
      unsigned long start = cons, pos = cons;
      uint32_t count = 0;
      while (pos < prod && pos - start < batch_bytes_limit_ && delivered + count < slice_limit_) {
        uint32_t word = RecordWord(src_data_, mask, pos);
        if (word & BPF_RINGBUF_BUSY_BIT) break;  // reserved, not yet submitted: records after it wait too
        if (!(word & BPF_RINGBUF_DISCARD_BIT)) count++;
        pos += RecordBytes(word);
      }
      if (pos == start) break;
      if (count > 0) {
        unsigned long offset = start & mask;
        Deliver(static_cast<double>(offset), static_cast<double>(offset + (pos - start)), count);
      }
      // JS has finished reading [start, pos): the producer (or the drain thread) may reuse it.
      __atomic_store_n(src_cons_, pos, staging_ ? __ATOMIC_SEQ_CST : __ATOMIC_RELEASE);
      if (staging_ && __atomic_exchange_n(&want_space_, false, __ATOMIC_SEQ_CST)) WakeThread();
      slice_bytes_ += pos - start;
      cons = pos;
      delivered += count;
      if (delivered >= slice_limit_) {
        *exhausted = cons < __atomic_load_n(src_prod_, __ATOMIC_ACQUIRE);
        break;
      }
    }
    in_consume_--;
    if (closed_ && in_consume_ == 0) Teardown();
    return delivered;
  }

  void Deliver(double start, double end, uint32_t count) {
    records_ += count;
    batches_++;
    Napi::HandleScope scope(env_);
    try {
      callback_.MakeCallback(Value(), {buffer_.Value(), Napi::Number::New(env_, start), Napi::Number::New(env_, end),
                                       Napi::Number::New(env_, count)});
    } catch (const Napi::Error& e) {
      // The TypeScript wrapper catches decoder errors itself; anything reaching here is a bug
      // in it. Surface it as an uncaught exception rather than lose it.
      napi_fatal_exception(env_, e.Value());
    }
  }

  // From the poll and timers: one slice, and a continuation on the next loop turn if needed.
  void ConsumeScheduled() {
    bool exhausted = false;
    ConsumeSlice(&exhausted);
    if (!again_ || !running_ || closed_) return;
    if (exhausted) {
      slices_deferred_++;
      uv_timer_start(again_, &RingBuffer::OnTimer, 0, 0);
    } else if (slice_bytes_ >= batch_bytes_limit_) {
      // A busy producer: drain again on the next loop turn rather than letting the ring fill to
      // the forced-wakeup threshold (every submission past it costs the producer an irq_work).
      uv_timer_start(again_, &RingBuffer::OnTimer, 0, 0);
    }
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<RingBuffer*>(h->data);
    if (!self) return;
    // Take the edge so the epoll fd stops being readable until the next kernel wakeup.
    struct epoll_event ev;
    while (epoll_wait(self->epoll_fd_, &ev, 1, 0) > 0) {
    }
    self->wakeups_++;
    self->ConsumeScheduled();
  }

  // The drain thread copied records into the staging buffer.
  static void OnAsync(uv_async_t* h) {
    auto* self = static_cast<RingBuffer*>(h->data);
    if (self && self->running_) self->ConsumeScheduled();
  }

  static void OnTimer(uv_timer_t* h) {
    if (h->data) static_cast<RingBuffer*>(h->data)->ConsumeScheduled();
  }

  void Start() {
    if (running_ || closed_ || !timer_) return;
    if (staging_) {
      // The drain thread does the waiting; what it staged while we were paused is read now.
      uv_timer_start(again_, &RingBuffer::OnTimer, 0, 0);
    } else {
      uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnPoll);
      uv_timer_start(timer_, &RingBuffer::OnTimer, drain_ms_, drain_ms_);
    }
    running_ = true;
  }

  void Stop() {
    if (!running_) return;
    if (poll_) uv_poll_stop(poll_);
    uv_timer_stop(timer_);
    uv_timer_stop(again_);
    running_ = false;
  }

  void Teardown(bool detach = true) {
    Stop();
    StopThread();  // before anything it touches is unmapped or closed
    if (poll_) {
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (async_) {
      async_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      async_ = nullptr;
    }
    for (uv_timer_t** t : {&timer_, &again_}) {
      if (!*t) continue;
      (*t)->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(*t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      *t = nullptr;
    }
    // Detach before unmapping: JS may still hold the ArrayBuffer or a view of it.
    if (detach && !buffer_.IsEmpty()) {
      Napi::HandleScope scope(env_);
      Napi::ArrayBuffer ab = buffer_.Value();
      if (!ab.IsDetached()) ab.Detach();
      buffer_.Reset();
    }
    if (!buffer_.IsEmpty()) buffer_.Reset();
    if (producer_pos_) munmap(producer_pos_, prod_len_);
    if (consumer_pos_) munmap(consumer_pos_, page_);
    producer_pos_ = consumer_pos_ = nullptr;
    data_ = nullptr;
    if (staging_) munmap(staging_, 2 * staging_size_);
    staging_ = nullptr;
    src_data_ = nullptr;
    src_cons_ = src_prod_ = nullptr;
    if (event_fd_ >= 0) close(event_fd_);
    event_fd_ = -1;
    if (idle_fd_ >= 0) close(idle_fd_);
    idle_fd_ = -1;
    // uv_close on the poll handle is deferred, but epoll_ctl-removal by libuv happened in
    // uv_poll_stop; closing the fd now is safe.
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (fd_ >= 0) close(fd_);
    epoll_fd_ = fd_ = -1;
    // Let the callback (and whatever it closes over) be collected now rather than when this
    // wrapper is.
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
      if (staging_ && in_consume_ == 0 && !closed_) {
        // Take what the kernel holds now too, not only what the thread already staged.
        std::lock_guard<std::mutex> guard(copy_mu_);
        CopyCommitted();
      }
      bool exhausted = false;
      uint32_t n = ConsumeSlice(&exhausted);
      total += n;
      if (closed_) break;
      // Staging: the kernel may still hold records that did not fit before this slice freed room.
      if (!exhausted && !(staging_ && n > 0 && KernelHasRecords())) break;
    }
    return Napi::Number::New(info.Env(), total);
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      closed_ = true;
      Stop();
      if (in_consume_ == 0) Teardown();  // else ConsumeSlice tears down when the handler returns
      Unref();
    }
    return info.Env().Undefined();
  }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("records", Napi::Number::New(env, static_cast<double>(records_)));
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
    o.Set("wakeups", Napi::Number::New(env, static_cast<double>(__atomic_load_n(&wakeups_, __ATOMIC_RELAXED))));
    o.Set("stagingBytes", Napi::Number::New(env, static_cast<double>(staging_size_)));
    o.Set("realtimeDrain", Napi::Boolean::New(env, realtime_));
    o.Set("idleSpells", Napi::Number::New(env, static_cast<double>(__atomic_load_n(&idle_spells_, __ATOMIC_RELAXED))));
    o.Set("stagingFull", Napi::Number::New(env, static_cast<double>(__atomic_load_n(&staging_full_, __ATOMIC_RELAXED))));
    o.Set("slicesDeferred", Napi::Number::New(env, static_cast<double>(slices_deferred_)));
    return o;
  }

  Napi::Env env_;
  Napi::FunctionReference callback_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  int fd_ = -1, epoll_fd_ = -1;
  uint32_t size_ = 0;  // data area size (power of two), mapped twice
  size_t page_ = 4096, prod_len_ = 0;
  unsigned long* consumer_pos_ = nullptr;
  unsigned long* producer_pos_ = nullptr;
  uint8_t* data_ = nullptr;
  uint32_t batch_bytes_limit_ = 4096, drain_ms_ = 10;
  unsigned long slice_bytes_ = 0;  // ring bytes the last slice consumed
  uint64_t records_ = 0, batches_ = 0, wakeups_ = 0, slices_deferred_ = 0;
  uint32_t slice_limit_ = 65536;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uv_timer_t* again_ = nullptr;  // continuation of a drain that hit its slice budget
  bool running_ = false, closed_ = false;
  int in_consume_ = 0;

  // What JS reads: the kernel's ring (in place) or the staging buffer.
  unsigned long* src_cons_ = nullptr;
  unsigned long* src_prod_ = nullptr;
  uint8_t* src_data_ = nullptr;
  uint64_t src_size_ = 0;
  // Staging: the buffer (mapped twice), its positions (the thread writes prod, JS writes cons; on
  // separate cache lines), the drain thread and its wakeup eventfd.
  uint8_t* staging_ = nullptr;
  uint64_t staging_size_ = 0;
  alignas(64) unsigned long staging_prod_ = 0;
  alignas(64) unsigned long staging_cons_ = 0;
  alignas(64) bool want_space_ = false;  // the thread stopped on a full staging buffer
  bool thread_stop_ = false;
  bool realtime_ = false;  // the drain thread got SCHED_FIFO
  uint64_t staging_full_ = 0;
  uint64_t idle_spells_ = 0;  // times the drain thread went idle (stopped its timer)
  int idle_fd_ = -1;          // the ring's `<name>_idle` flag map
  int event_fd_ = -1;
  uv_async_t* async_ = nullptr;
  std::mutex copy_mu_;  // the thread's copy vs. a drain() on the JS thread
  std::thread thread_;
};

}  // namespace

Napi::Object InitRingBuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("RingBuffer", RingBuffer::Define(env));
  return exports;
}

}  // namespace boxwatch

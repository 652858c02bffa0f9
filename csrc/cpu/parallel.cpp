// parallel.cpp — the thread pool behind pyengine/parallel.h (the protocol is described there).
//
// State shared by the caller and the workers, all in one Pool that is never destroyed (workers are
// detached; at exit they are asleep or spinning and simply vanish with the process):
//   state_    (job id << 1) | open. The caller writes the job's fields, then stores a new id with
//             the open bit; it clears the bit when the chunk counter is exhausted.
//   active_   workers that have announced themselves for the current job. A worker increments it
//             *before* re-reading state_; the caller reads it *after* closing the job, so (all
//             seq_cst) either the caller sees the worker and waits for it, or the worker sees the
//             job closed and leaves without touching the job's fields.
//   next_     the next chunk to hand out; slots_ the next participant slot (caller = 0).
// Sleeping is a condition variable with a sleeper count checked after the state change (the same
// Dekker pairing: the waker stores state_ then reads sleepers_; the sleeper increments sleepers_
// then re-reads state_ under the mutex), so a wake-up is never lost and never costs a syscall when
// nobody sleeps.
// After fork() the child has no workers: pthread_atfork resets the pool in the child, and even
// without that reset the protocol holds (the caller runs every chunk nobody claims).
#include "pyengine/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace pyengine::cpu {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#endif
}

using Clock = std::chrono::steady_clock;

int spin_us_from_env() {
  const char* s = std::getenv("PYENGINE_SPIN_US");
  if (!s || !*s) return 50;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || v < 0) return 50;
  return static_cast<int>(std::min(v, 1000000L));
}

// Spins until pred() or until `us` microseconds have passed; true when pred() held.
template <typename P>
bool spin_until(P pred, int us) {
  if (pred()) return true;
  if (us <= 0) return false;
  const auto deadline = Clock::now() + std::chrono::microseconds(us);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (pred()) return true;
    }
    if (Clock::now() >= deadline) return pred();
  }
}

thread_local bool t_in_pool = false;   // a worker, or the caller while it runs a job

class Pool {
 public:
  void run(index_t n, index_t grain, int threads, ChunkFn fn, void* ctx);

  void reset_after_fork() {
    // The child has only the forking thread: forget the workers (their memory is leaked, their
    // threads do not exist) and start from a fresh state.
    new (&caller_mutex_) std::mutex();
    new (&sleep_mutex_) std::mutex();
    new (&sleep_cv_) std::condition_variable();
    new (&done_mutex_) std::mutex();
    new (&done_cv_) std::condition_variable();
    workers_ = 0;
    state_.store(state_.load() & ~std::uint64_t(1));
    active_.store(0);
    sleepers_.store(0);
    caller_waiting_.store(false);
    t_in_pool = false;
  }

  std::atomic<int> spin_us{spin_us_from_env()};
  std::atomic<long long> calls{0}, inline_calls{0}, caller_chunks{0}, worker_chunks{0}, caller_sleeps{0};

 private:
  void grow(int workers);
  void worker_main();
  void run_chunks(int slot, bool caller);
  void leave();

  std::mutex caller_mutex_;   // one caller at a time; others run inline
  int workers_ = 0;           // started (guarded by caller_mutex_)

  // the job (written by the caller before it opens the job)
  ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  index_t n_ = 0, chunk_ = 1, chunks_ = 0;
  int max_slots_ = 1;

  alignas(64) std::atomic<std::uint64_t> state_{0};
  alignas(64) std::atomic<index_t> next_{0};
  alignas(64) std::atomic<int> slots_{0};
  alignas(64) std::atomic<int> active_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_waiting_{false};

  std::mutex sleep_mutex_;
  std::condition_variable sleep_cv_;
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
};

Pool& pool() {
  static Pool* p = new Pool();   // never destroyed: detached workers may still be waiting at exit
  return *p;
}

void Pool::grow(int workers) {
  while (workers_ < workers) {
    std::thread(&Pool::worker_main, this).detach();
    ++workers_;
  }
}

void Pool::run_chunks(int slot, bool caller) {
  long long done = 0;
  for (;;) {
    const index_t c = next_.fetch_add(1, std::memory_order_relaxed);
    if (c >= chunks_) break;
    const index_t lo = c * chunk_;
    const index_t hi = std::min(n_, lo + chunk_);
    fn_(ctx_, lo, hi, slot);
    ++done;
  }
  (caller ? caller_chunks : worker_chunks).fetch_add(done, std::memory_order_relaxed);
}

void Pool::leave() {
  if (active_.fetch_sub(1) == 1 && caller_waiting_.load()) {
    std::lock_guard<std::mutex> lk(done_mutex_);
    done_cv_.notify_one();
  }
}

void Pool::worker_main() {
  t_in_pool = true;
  std::uint64_t seen = state_.load() >> 1;   // a job open when the worker starts is joined too
  if (state_.load() & 1) seen -= 1;
  for (;;) {
    auto fresh = [&] {
      const std::uint64_t s = state_.load();
      return (s & 1) && (s >> 1) != seen;
    };
    if (!spin_until(fresh, spin_us.load(std::memory_order_relaxed))) {
      std::unique_lock<std::mutex> lk(sleep_mutex_);
      sleepers_.fetch_add(1);
      sleep_cv_.wait(lk, fresh);
      sleepers_.fetch_sub(1);
    }
    active_.fetch_add(1);
    const std::uint64_t s = state_.load();
    seen = s >> 1;
    if (!(s & 1)) {   // closed between the wake-up and the announcement
      leave();
      continue;
    }
    const int slot = slots_.fetch_add(1);
    if (slot < max_slots_) run_chunks(slot, false);
    leave();
  }
}

void Pool::run(index_t n, index_t grain, int threads, ChunkFn fn, void* ctx) {
  std::unique_lock<std::mutex> lk(caller_mutex_, std::try_to_lock);
  if (t_in_pool || !lk.owns_lock()) {
    inline_calls.fetch_add(1, std::memory_order_relaxed);
    fn(ctx, 0, n, 0);
    return;
  }
  grow(threads - 1);
  calls.fetch_add(1, std::memory_order_relaxed);
  // At most 8 chunks per thread: enough that a late or descheduled worker leaves its share to the
  // others, few enough that the shared counter stays off the profile.
  const index_t max_chunks = static_cast<index_t>(threads) * 8;
  index_t chunk = (n + max_chunks - 1) / max_chunks;
  if (chunk < grain) chunk = grain;
  fn_ = fn;
  ctx_ = ctx;
  n_ = n;
  chunk_ = chunk;
  chunks_ = (n + chunk - 1) / chunk;
  max_slots_ = threads;
  next_.store(0, std::memory_order_relaxed);
  slots_.store(1, std::memory_order_relaxed);
  const std::uint64_t id = (state_.load() >> 1) + 1;
  state_.store((id << 1) | 1);
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> g(sleep_mutex_);
    sleep_cv_.notify_all();
  }
  t_in_pool = true;
  run_chunks(0, true);
  t_in_pool = false;
  state_.store(id << 1);   // closed: late workers leave without touching the job
  auto idle = [&] { return active_.load() == 0; };
  if (!spin_until(idle, spin_us.load(std::memory_order_relaxed))) {
    caller_sleeps.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock<std::mutex> dl(done_mutex_);
    caller_waiting_.store(true);
    done_cv_.wait(dl, idle);
    caller_waiting_.store(false);
  }
}

#if defined(__unix__) || defined(__APPLE__)
void atfork_child() { pool().reset_after_fork(); }
const bool g_atfork = [] {
  pthread_atfork(nullptr, nullptr, &atfork_child);
  return true;
}();
#endif

}  // namespace

void parallel_run(index_t n, index_t grain, int threads, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  if (threads <= 1 || n <= 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  pool().run(n, grain < 1 ? 1 : grain, threads, fn, ctx);
}

ParallelStats parallel_stats() {
  Pool& p = pool();
  ParallelStats s;
  s.calls = p.calls.load();
  s.inline_calls = p.inline_calls.load();
  s.caller_chunks = p.caller_chunks.load();
  s.worker_chunks = p.worker_chunks.load();
  s.caller_sleeps = p.caller_sleeps.load();
  return s;
}

void parallel_reset_stats() {
  Pool& p = pool();
  p.calls = 0;
  p.inline_calls = 0;
  p.caller_chunks = 0;
  p.worker_chunks = 0;
  p.caller_sleeps = 0;
}

int parallel_spin_us() { return pool().spin_us.load(); }
void parallel_set_spin_us(int us) { pool().spin_us.store(us < 0 ? 0 : us); }

}  // namespace pyengine::cpu

// pyengine/parallel.h — how the CPU kernels use threads: parallel_for over an index range, run by
// pyengine's own small thread pool (csrc/cpu/parallel.cpp), not by OpenMP's parallel regions.
//
// Why not OpenMP: an OpenMP region hands each thread its share up front (schedule(static)) and ends
// in a barrier that every thread of the team must reach. When another process shares the cores and
// the scheduler takes a core from one worker, the whole team waits for that worker's share — a
// time slice (milliseconds) per region, hundreds of regions per training step. libgomp's passive
// wait policy avoids the spinning but pays a sleep/wake on every region on a quiet machine.
//
// The pool's protocol, per call parallel_for(n, threads, f):
//   - [0, n) is cut into chunks (at most 8 per thread, at least `grain` indices each);
//   - the calling thread publishes the job, wakes sleeping workers, and starts taking chunks itself
//     at once; workers take chunks from the same atomic counter as they arrive;
//   - when no chunk is left, the caller waits only for the chunks other threads are running (never
//     for a worker that has not started: a descheduled worker simply takes no chunk);
//   - every waiter (idle worker, caller waiting for running chunks) spins for a short bounded time
//     (PYENGINE_SPIN_US, default 50 µs) and then sleeps on a condition variable, so an idle pool
//     costs nothing and a busy core is given back to whoever needs it.
// The participants of one call get distinct slots 0 .. threads-1 (the caller is slot 0), for
// per-thread scratch. Which slot runs which chunk changes from call to call, so a partial result
// that is summed afterwards must not be kept per slot (the sum's rounding would change from run to
// run): parallel_for_blocks gives fixed blocks whose partial results are added in block order. A call made from inside a chunk, from
// a pool worker, or while another Python thread holds the pool runs inline on the calling thread.
// Chunks must not throw (kernels never do). threads <= 1 or n <= 1 runs inline with no pool traffic.
//
// The thread count is still pyengine::cpu::get_num_threads() (set_num_threads, OMP_NUM_THREADS);
// the pool grows to threads-1 workers the first time a call asks for that many.
#pragma once
#include <type_traits>
#include <utility>

#include "pyengine/common.h"

namespace pyengine::cpu {

// One chunk [lo, hi) run by the participant with index `slot`.
using ChunkFn = void (*)(void* ctx, index_t lo, index_t hi, int slot);

// Runs fn over [0, n) in chunks of at least `grain` indices on up to `threads` threads (the caller
// among them) and returns when every chunk has finished.
void parallel_run(index_t n, index_t grain, int threads, ChunkFn fn, void* ctx);

// Pool statistics and knobs for the benchmarks (bench/threads_busy.py).
struct ParallelStats {
  long long calls = 0;          // parallel_run calls that used the pool
  long long inline_calls = 0;   // calls run inline (threads <= 1, n <= 1, nested, pool busy)
  long long caller_chunks = 0;  // chunks the calling thread ran
  long long worker_chunks = 0;  // chunks the workers ran
  long long caller_sleeps = 0;  // times the caller slept waiting for a running chunk
};
ParallelStats parallel_stats();
void parallel_reset_stats();
int parallel_spin_us();
void parallel_set_spin_us(int us);

namespace detail {
template <typename F>
void run_ranges(void* ctx, index_t lo, index_t hi, int slot) {
  F& f = *static_cast<F*>(ctx);
  f(lo, hi, slot);
}
}  // namespace detail

// f(index_t lo, index_t hi, int slot): one call per chunk (per-chunk setup such as a Workspace or a
// pointer to the slot's partial result goes at the top of f).
template <typename F>
inline void parallel_for_ranges(index_t n, int threads, F&& f, index_t grain = 1) {
  if (n <= 0) return;
  if (threads <= 1 || n <= 1) {
    f(index_t(0), n, 0);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  parallel_run(n, grain, threads, &detail::run_ranges<Fn>, static_cast<void*>(&f));
}

// f(index_t i): the body of a `for (i = 0; i < n; ++i)` loop whose iterations are independent.
template <typename F>
inline void parallel_for(index_t n, int threads, F&& f, index_t grain = 1) {
  parallel_for_ranges(
      n, threads,
      [&f](index_t lo, index_t hi, int) {
        for (index_t i = lo; i < hi; ++i) f(i);
      },
      grain);
}

// f(index_t i, int slot): as parallel_for, with the participant's slot (0 .. threads-1).
template <typename F>
inline void parallel_for_slots(index_t n, int threads, F&& f, index_t grain = 1) {
  parallel_for_ranges(
      n, threads,
      [&f](index_t lo, index_t hi, int slot) {
        for (index_t i = lo; i < hi; ++i) f(i, slot);
      },
      grain);
}

// f(index_t lo, index_t hi, index_t block): [0, n) cut into `blocks` contiguous blocks of equal size
// (block b always covers the same indices), each block one chunk. For per-block partial sums that
// are added in block order afterwards: the result is the same bits on every run with the same
// `blocks`, whichever thread ran which block.
template <typename F>
inline void parallel_for_blocks(index_t n, index_t blocks, int threads, F&& f) {
  if (n <= 0) return;
  if (blocks < 1) blocks = 1;
  const index_t per = (n + blocks - 1) / blocks;
  parallel_for_ranges(
      blocks, threads,
      [&f, n, per](index_t b0, index_t b1, int) {
        for (index_t b = b0; b < b1; ++b) {
          const index_t lo = b * per < n ? b * per : n, hi = lo + per < n ? lo + per : n;
          f(lo, hi, b);
        }
      },
      1);
}

}  // namespace pyengine::cpu

// runtime.cpp — instruction-set choice (CPUID, PYENGINE_CPU_ISA), the OpenMP thread count, and the
// per-thread workspace arena of pyengine/workspace.h.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>
#ifdef PYENGINE_OPENMP
#include <omp.h>
#endif
#include "pyengine/common.h"
#include "pyengine/workspace.h"

namespace pyengine::cpu {
namespace {
std::atomic<int> g_active{-1};
// The thread count is process-wide (not OpenMP's per-thread ICV) so that kernels called from any
// Python thread use what set_num_threads chose. Kernels pass it as num_threads(...).
std::atomic<int> g_threads{0};
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
#if defined(PYENGINE_HAVE_AVX2) && (defined(__x86_64__) || defined(_M_X64))
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(PYENGINE_HAVE_AVX512) && (defined(__x86_64__) || defined(_M_X64))
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("fma");
#endif
    default: return false;
  }
}

Isa best_isa() {
  if (isa_supported(Isa::avx512)) return Isa::avx512;
  if (isa_supported(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(best_isa());
    g_active.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_active_isa(Isa isa) { g_active.store(static_cast<int>(isa), std::memory_order_relaxed); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

int get_num_threads() {
#ifdef PYENGINE_OPENMP
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = omp_get_max_threads();  // honours OMP_NUM_THREADS
    g_threads.store(n, std::memory_order_relaxed);
  }
  return n;
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#ifdef PYENGINE_OPENMP
  g_threads.store(n, std::memory_order_relaxed);
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

bool openmp_enabled() {
#ifdef PYENGINE_OPENMP
  return true;
#else
  return false;
#endif
}

// ---- the workspace arena ---------------------------------------------------------------------
//
// A stack of blocks per thread: takes come from the current block, the next one (kept from an
// earlier, larger demand) or a new one; a frame remembers (block, used) and restores it.

namespace {

constexpr index_t kAlign = 64;
constexpr index_t kMinBlock = index_t(1) << 20;

struct Block {
  char* base = nullptr;
  index_t size = 0;
};

struct Arena {
  std::vector<Block> blocks;
  index_t current = 0, used = 0;   // the block takes come from, and how much of it is in use
  int depth = 0;                   // open frames
  bool grew = false;               // a block was added since the outermost frame opened

  ~Arena() {
    for (Block& b : blocks) std::free(b.base);
  }

  void* take(index_t bytes) {
    if (bytes < 1) bytes = 1;
    bytes = (bytes + kAlign - 1) / kAlign * kAlign;
    while (current < static_cast<index_t>(blocks.size())) {
      if (used + bytes <= blocks[static_cast<size_t>(current)].size) {
        void* p = blocks[static_cast<size_t>(current)].base + used;
        used += bytes;
        return p;
      }
      if (current + 1 == static_cast<index_t>(blocks.size())) break;
      ++current;
      used = 0;
    }
    const index_t last = blocks.empty() ? 0 : blocks.back().size;
    index_t size = bytes > 2 * last ? bytes : 2 * last;
    if (size < kMinBlock) size = kMinBlock;
    void* p = std::aligned_alloc(kAlign, static_cast<size_t>(size));
    if (!p) return nullptr;
    blocks.push_back(Block{static_cast<char*>(p), size});
    grew = grew || blocks.size() > 1;
    current = static_cast<index_t>(blocks.size()) - 1;
    used = bytes;
    return p;
  }

  // When the outermost frame closes, blocks added on the way are merged into one, so the next
  // call of the same sizes fits in a single block.
  void settle() {
    if (!grew) return;
    index_t total = 0;
    for (Block& b : blocks) {
      total += b.size;
      std::free(b.base);
    }
    blocks.clear();
    void* p = std::aligned_alloc(kAlign, static_cast<size_t>(total));
    if (p) blocks.push_back(Block{static_cast<char*>(p), total});
    grew = false;
  }
};

Arena& arena() {
  static thread_local Arena a;
  return a;
}

}  // namespace

Workspace::Workspace() {
  Arena& a = arena();
  block_ = a.current;
  used_ = a.used;
  ++a.depth;
}

Workspace::~Workspace() {
  Arena& a = arena();
  a.current = block_;
  a.used = used_;
  if (--a.depth == 0) {
    a.settle();
    a.current = 0;
    a.used = 0;
  }
}

void* Workspace::take(index_t bytes) { return arena().take(bytes); }

}  // namespace pyengine::cpu

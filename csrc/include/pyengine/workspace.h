// pyengine/workspace.h — the scratch memory of the CPU kernels: one arena per thread, used as a stack.
//
// A kernel (or each OpenMP thread's share of one) opens a Workspace, takes 64-byte-aligned blocks
// from it with workspace_take<T>(ws, n), and gives every block back when the Workspace closes (its
// scope ends). Workspaces nest: a convolution's frame and the GEMM it calls each take their own
// blocks from the same thread's arena. The arena keeps its memory between calls and grows to the
// largest demand seen (when an outermost Workspace closes after the arena had to add a block, the
// blocks are merged into one of their total size), so a kernel called again with the same sizes
// allocates nothing. A take that the system cannot serve returns null; callers skip their work then
// (the bindings refuse, with MemoryError, any call whose estimate exceeds the machine's memory).
#pragma once
#include "pyengine/common.h"

namespace pyengine::cpu {

class Workspace {
 public:
  Workspace();    // opens a frame on this thread's arena
  ~Workspace();   // gives back every block taken since
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* take(index_t bytes);   // 64-byte aligned; null when out of memory

 private:
  index_t block_, used_;       // the arena's position when the frame opened
};

namespace {
// A typed block (internal linkage: each per-ISA copy has its own, never merged by the linker).
template <typename T>
inline T* workspace_take(Workspace& ws, index_t count) {
  return static_cast<T*>(ws.take(count * static_cast<index_t>(sizeof(T))));
}
}  // namespace

}  // namespace pyengine::cpu

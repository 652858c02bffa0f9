// pyengine/common.h — what every kernel shares: index type, the instruction-set switch, threads.
//
// Shape legend used by every header in this folder:
//   N batch, C input channels, H/W input height/width, K output channels, R/S kernel height/width,
//   OH/OW output height/width, G groups; T time steps, I input features, H hidden size (LSTM).
// All arrays are dense, row-major (C-contiguous), and validated by csrc/bindings before a kernel
// runs: kernels trust their arguments and never throw.
#pragma once
#include <cstdint>

// The CUDA stream type exactly as cuda_runtime.h declares it, so that the CUDA launchers can be
// declared in the family headers without the CUDA headers (the bindings of both modules see them).
struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

namespace pyengine {

using index_t = std::int64_t;

// The instruction set whose copy of the csrc/cpu/isa kernels runs. Chosen once at import by CPUID,
// overridable with PYENGINE_CPU_ISA=avx512|avx2|generic or set_cpu_isa().
enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

namespace cpu {

Isa active_isa();
bool isa_supported(Isa isa);        // built into this module and supported by this CPU and OS
void set_active_isa(Isa isa);       // caller checks isa_supported first
Isa best_isa();
const char* isa_name(Isa isa);

int get_num_threads();
void set_num_threads(int n);
bool openmp_enabled();

}  // namespace cpu
}  // namespace pyengine

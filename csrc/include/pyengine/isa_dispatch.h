// pyengine/isa_dispatch.h — a kernel compiled once per instruction set, declared once, called once.
//
// A kernel in csrc/cpu/isa/*.cpp is compiled three times (cmake/isa.cmake), each time inside
// namespace pyengine::cpu::<isa>. Its family header declares it once, with its signature, as an
// IsaKernel (ATen's DECLARE_DISPATCH):
//
//   PE_ISA_KERNEL(activation_f32, void(int op, index_t n, const float* a, const float* b, float p, float* out));
//
// the per-ISA file registers its copy of the function (REGISTER_DISPATCH):
//
//   PE_ISA_REGISTER(activation_f32, activation_f32_impl);
//
// and a caller calls it like a function, `activation_f32(op, n, a, b, p, out)`, which runs the copy
// of the instruction set active now (pyengine::cpu::active_isa(), chosen by CPUID at import, or
// PYENGINE_CPU_ISA / set_cpu_isa) — the generic copy when that set was not built for this kernel.
//
// The per-ISA files must not instantiate STL or other inline templates that the linker could merge
// across the copies (an AVX-512 copy of std::max<float> picked for an AVX2 machine would crash):
// raw pointers, <cmath>, compiler vector types and the prelude csrc/cpu/isa/isa.h only — and they
// never call an IsaKernel (they only register into one; a kernel of one ISA calls the other
// functions of its own namespace directly).
#pragma once
#include "pyengine/common.h"

namespace pyengine::cpu {

constexpr int kIsaCount = 3;   // Isa::generic, avx2, avx512

template <typename Signature>
struct IsaKernel;

template <typename R, typename... Args>
struct IsaKernel<R(Args...)> {
  R (*copy[kIsaCount])(Args...) = {};   // one entry per Isa, filled at load time by PE_ISA_REGISTER

  // The copy of one instruction set (generic when that one was not built), for kernels that pick
  // their own (the int8 kernels need VNNI for their AVX-512 copy).
  auto of(Isa isa) const {
    R (*f)(Args...) = copy[static_cast<int>(isa)];
    return f ? f : copy[static_cast<int>(Isa::generic)];
  }

  R operator()(Args... args) const { return of(active_isa())(args...); }
};

}  // namespace pyengine::cpu

// In a family header: one kernel with every copy's signature.
#define PE_ISA_KERNEL(name, ...) inline ::pyengine::cpu::IsaKernel<__VA_ARGS__> name

// In a per-ISA file, at namespace scope: this ISA's copy of the kernel `name` is `function`.
#define PE_ISA_REGISTER(name, function)                                                             \
  namespace {                                                                                       \
  [[maybe_unused]] const bool pe_registered_##name =                                                \
      (::pyengine::cpu::name.copy[static_cast<int>(::pyengine::Isa::PYENGINE_ISA)] = &function, true); \
  }

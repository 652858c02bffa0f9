// bind_bench.cpp — the machine-limit probes the benchmark suite divides by (bench/):
//   fma_peak_gflops(threads, isa)  measured fp32 FMA throughput of the ISA's copy of the FMA loop
//   bench_copy(dst, src, threads)  parallel float32 copy, for memory bandwidth (timed in Python)
// and _gemm_ex, the GEMM with the fused bias/ReLU epilogue of pyengine/gemm.h, exposed so the tests
// (tests/kernels/test_gemm.py) reach it before a kernel family uses it.
#include <chrono>
#include <string>
#include <tuple>

#include "bind_util.h"
#include "pyengine/gemm.h"
#include "pyengine/bench.h"


namespace pyengine::bind {
namespace {

double run_fma(Isa isa, int threads, index_t iters, index_t* flops_per_round, double* checksum) {
  *flops_per_round = cpu::fma_flops_per_round.of(isa)();
  const auto t0 = std::chrono::steady_clock::now();
  *checksum = cpu::fma_peak_loop.of(isa)(threads, iters);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <typename T>
py::array gemm_ex_typed(const py::array& a, const py::array& b, bool ta, bool tb, double alpha,
                        const py::object& rb, const py::object& cb, bool relu, index_t M, index_t N, index_t K) {
  py::array out = new_array<T>({M, N});
  const T* prb = rb.is_none() ? nullptr : cptr<T>(rb.cast<py::array>());
  const T* pcb = cb.is_none() ? nullptr : cptr<T>(cb.cast<py::array>());
  const T* pa = cptr<T>(a);
  const T* pb = cptr<T>(b);
  T* pc = ptr<T>(out);
  py::gil_scoped_release release;
  cpu::gemm_ex<T>(ta, tb, M, N, K, static_cast<T>(alpha), pa, a.shape(1), pb, b.shape(1), T(0), pc, N, prb, pcb, relu);
  return out;
}

}  // namespace

void bind_bench(py::module_& m) {
  m.def("_gemm_ex", [](const py::array& a, const py::array& b, bool trans_a, bool trans_b, double alpha,
                       const py::object& row_bias, const py::object& col_bias, bool relu) -> py::array {
    const char* fn = "_gemm_ex";
    DType dt = check_array(fn, "a", a, 2);
    check_array(fn, "b", b, 2);
    check_same_dtype(fn, "b", b, dt, "a");
    const index_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
    const index_t Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
    if (K != Kb) value_error(cat(fn, ": inner dimensions ", K, " and ", Kb, " differ"));
    checked_numel(fn, "output size M*N", {M, N});
    for (auto [name, obj, len] : {std::tuple<const char*, const py::object*, index_t>{"row_bias", &row_bias, M},
                                  {"col_bias", &col_bias, N}}) {
      if (obj->is_none()) continue;
      py::array v = obj->cast<py::array>();
      check_array(fn, name, v, 1);
      check_same_dtype(fn, name, v, dt, "a");
      check_shape(fn, name, v, {len});
    }
    return dt == DType::f32 ? gemm_ex_typed<float>(a, b, trans_a, trans_b, alpha, row_bias, col_bias, relu, M, N, K)
                            : gemm_ex_typed<double>(a, b, trans_a, trans_b, alpha, row_bias, col_bias, relu, M, N, K);
  }, py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0,
     py::arg("row_bias") = py::none(), py::arg("col_bias") = py::none(), py::arg("relu") = false,
     "act(alpha·op(a)·op(b) + row_bias[:, None] + col_bias[None, :]) (C-contiguous arrays; tests only).");

  // The floor of `python -m bench overhead`: the least any kernel call through pybind11 costs.
  m.def("_noop", [] {});
  m.def("fma_peak_gflops", [](int threads, const py::object& isa_obj, double seconds) {
    const char* fn = "fma_peak_gflops";
    if (threads < 1) value_error(cat(fn, ": threads must be >= 1, got ", threads));
    if (!(seconds > 0.0 && seconds <= 60.0)) value_error(cat(fn, ": seconds must be in (0, 60], got ", seconds));
    Isa isa = cpu::active_isa();
    if (!isa_obj.is_none()) {
      const std::string name = isa_obj.cast<std::string>();
      if (name == "avx512") isa = Isa::avx512;
      else if (name == "avx2") isa = Isa::avx2;
      else if (name == "generic") isa = Isa::generic;
      else value_error(cat(fn, ": isa must be 'avx512', 'avx2', 'generic' or None, got '", name, "'"));
      if (!cpu::isa_supported(isa)) value_error(cat(fn, ": isa '", name, "' is not supported on this CPU or build"));
    }
    index_t fpr = 0;
    double checksum = 0.0, best = 0.0;
    py::gil_scoped_release release;
    // Calibrate the round count to about 5 ms per try, then keep the best of the tries that fit
    // in `seconds`: short tries catch the moments when the machine is quiet.
    // Calibrated on one thread: waking more threads costs milliseconds on a loaded machine.
    index_t iters = 1 << 14;
    double t = run_fma(isa, 1, iters, &fpr, &checksum);
    while (t < 0.002) { iters *= 2; t = run_fma(isa, 1, iters, &fpr, &checksum); }
    iters = static_cast<index_t>(static_cast<double>(iters) * 0.005 / t) + 1;
    double spent = 0.0;
    for (int rep = 0; rep < 3 || spent < seconds; ++rep) {
      t = run_fma(isa, threads, iters, &fpr, &checksum);
      spent += t;
      const double g = static_cast<double>(fpr) * static_cast<double>(iters) * threads / t / 1e9;
      if (g > best && checksum == checksum) best = g;
    }
    return best;
  }, py::arg("threads") = 1, py::arg("isa") = py::none(), py::arg("seconds") = 0.3,
     "Measured fp32 multiply-add throughput in GFLOP/s of `threads` threads (best 5 ms try within `seconds`).");

  m.def("bench_copy", [](py::array& dst, const py::array& src, int threads) {
    const char* fn = "bench_copy";
    if (threads < 1) value_error(cat(fn, ": threads must be >= 1, got ", threads));
    if (dtype_of(fn, "dst", dst) != DType::f32 || dtype_of(fn, "src", src) != DType::f32)
      type_error(cat(fn, ": dst and src must be float32"));
    check_contiguous(fn, "dst", dst);
    check_contiguous(fn, "src", src);
    check_writeable(fn, "dst", dst);
    if (dst.size() != src.size())
      value_error(cat(fn, ": dst has ", dst.size(), " elements but src has ", src.size()));
    float* d = static_cast<float*>(dst.mutable_data());
    const float* s = static_cast<const float*>(src.data());
    const index_t n = static_cast<index_t>(src.size());
    py::gil_scoped_release release;
    cpu::copy_floats(d, s, n, threads);
  }, py::arg("dst"), py::arg("src"), py::arg("threads") = 1,
     "Copies float32 src into dst with `threads` threads (memory bandwidth probe).");
}

}  // namespace pyengine::bind

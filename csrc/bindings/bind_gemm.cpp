// bind_gemm.cpp — gemm(a, b, c, trans_a, trans_b, alpha, beta) → new array alpha·op(a)·op(b) + beta·c.
#include "bind_util.h"
#include "pyengine/gemm.h"

namespace pyengine::bind {
namespace {

template <typename T>
py::array gemm_typed(const py::array& a, const py::array& b, const py::object& c_obj, bool ta, bool tb,
                     double alpha, double beta, index_t M, index_t N, index_t K) {
  py::array out = new_array<T>({M, N});
  T beta_t = static_cast<T>(beta);
  if (!c_obj.is_none()) {
    py::array c = c_obj.cast<py::array>();
    std::memcpy(out.mutable_data(), c.data(), static_cast<size_t>(M * N) * sizeof(T));
  } else {
    beta_t = T(0);
  }
  const T* pa = cptr<T>(a);
  const T* pb = cptr<T>(b);
  T* pc = ptr<T>(out);
  const index_t lda = a.shape(1), ldb = b.shape(1);
  {
    py::gil_scoped_release release;
    cpu::gemm<T>(ta, tb, M, N, K, static_cast<T>(alpha), pa, lda, pb, ldb, beta_t, pc, N);
  }
  return out;
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("gemm", [](const py::array& a, const py::array& b, const py::object& c, bool trans_a, bool trans_b,
                   double alpha, double beta) -> py::array {
    const char* fn = "gemm";
    DType dt = check_array(fn, "a", a, 2);
    check_array(fn, "b", b, 2);
    check_same_dtype(fn, "b", b, dt, "a");
    const index_t M = trans_a ? a.shape(1) : a.shape(0);
    const index_t Ka = trans_a ? a.shape(0) : a.shape(1);
    const index_t Kb = trans_b ? b.shape(1) : b.shape(0);
    const index_t N = trans_b ? b.shape(0) : b.shape(1);
    if (Ka != Kb)
      value_error(cat(fn, ": op(a) is ", M, "x", Ka, " and op(b) is ", Kb, "x", N,
                      "; inner dimensions ", Ka, " and ", Kb, " differ"));
    checked_numel(fn, "output size M*N", {M, N});
    if (!c.is_none()) {
      py::array ca = c.cast<py::array>();
      check_array(fn, "c", ca, 2);
      check_same_dtype(fn, "c", ca, dt, "a");
      check_shape(fn, "c", ca, {M, N});
    }
    return dt == DType::f32 ? gemm_typed<float>(a, b, c, trans_a, trans_b, alpha, beta, M, N, Ka)
                            : gemm_typed<double>(a, b, c, trans_a, trans_b, alpha, beta, M, N, Ka);
  }, py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::arg("trans_a") = false,
     py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
     "alpha·op(a)·op(b) + beta·c on C-contiguous float32/float64 2-D arrays (new array).");
}

}  // namespace pyengine::bind

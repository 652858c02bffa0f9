// bind_gemm.cpp — gemm(a, b, c=None, *, trans_a, trans_b, alpha, beta) → a new array
// alpha·op(a)·op(b) + beta·c (pyengine/gemm.h), for pyengine._C and pyengine._cuda.
//
// A Fortran-ordered a or b (a transposed view) is read through the transpose flag instead of being
// copied; other views are copied to C order.
#include <cstring>

#include "bind.h"
#include "pyengine/cuda/gemm.h"
#include "pyengine/gemm.h"

namespace pyengine::bind::gemm {

// A Fortran-ordered matrix is the C-ordered transpose: flip the flag rather than copy.
template <class D>
void flip_fortran(typename D::Arg& x, bool& trans) {
  if (!x.a.present || x.a.ndim() != 2) return;
  if constexpr (D::is_cuda) {
    if (x.contiguous || !py::hasattr(x.obj, "T")) return;
    py::object t = x.obj.attr("T");
    typename D::Arg flipped = x;
    D::describe("gemm", flipped, t);
    if (!flipped.contiguous) return;
    flipped.obj = t;
    x = flipped;
  } else {
    if ((x.arr.flags() & py::array::c_style) || !(x.arr.flags() & py::array::f_style)) return;
    x.arr = py::reinterpret_borrow<py::array>(x.arr.attr("T"));
    x.a.shape = {x.a.shape[1], x.a.shape[0]};
  }
  trans = !trans;
}

template <class D>
py::object run(py::handle a_obj, py::handle b_obj, py::handle c_obj, py::handle ta_obj, py::handle tb_obj,
               py::handle alpha_obj, py::handle beta_obj) {
  const char* fn = "gemm";
  auto a = D::arg(fn, "a", a_obj), b = D::arg(fn, "b", b_obj), c = D::opt(fn, "c", c_obj);
  bool ta = to_bool(fn, "trans_a", ta_obj), tb = to_bool(fn, "trans_b", tb_obj);
  const contract::GemmDims d = contract::gemm(fn, a.a, b.a, c.a, ta, tb);
  const double alpha = to_real(fn, "alpha", alpha_obj), beta = to_real(fn, "beta", beta_obj);
  flip_fortran<D>(a, ta);
  flip_fortran<D>(b, tb);
  typename D::Call call(fn);
  call.inputs({&a, &b, &c});
  return with_float(a.a.dtype, [&](auto t) {
    using T = decltype(t);
    auto y = call.template empty<T>("the output", {d.M, d.N});
    const T *pa = in<T>(a), *pb = in<T>(b), *pc = in<T>(c);
    T* py_ = out<T>(y);
    const index_t lda = a.a.dim(1), ldb = b.a.dim(1);
    const T beta_t = c.a.present ? static_cast<T>(beta) : T(0);   // c None: nothing to add
    if constexpr (D::is_cuda) {
      const bool tf32 = call.tf32() && sizeof(T) == 4;
      call.run([&] {
        cuda::gemm<T>(ta, tb, d.M, d.N, d.K, static_cast<T>(alpha), pa, lda, pb, ldb, beta_t, pc, py_, d.N, nullptr,
                      false, tf32, call.stream());
      });
    } else {
      call.run([&] {
        if (pc && beta_t != T(0)) std::memcpy(py_, pc, sizeof(T) * static_cast<size_t>(d.M * d.N));
        cpu::gemm<T>(ta, tb, d.M, d.N, d.K, static_cast<T>(alpha), pa, lda, pb, ldb, pc ? beta_t : T(0), py_, d.N);
      });
    }
    return y.object();
  });
}

template <class D>
void bind(py::module_& m) {
  using py::arg;
  kernel(m, "gemm", &run<D>, arg("a"), arg("b"), arg("c") = py::none(), py::kw_only(), arg("trans_a") = false,
         arg("trans_b") = false, arg("alpha") = 1.0, arg("beta") = 0.0,
         "alpha·op(a)·op(b) + beta·c. a: (M, K), or (K, M) when trans_a; b: (K, N), or (N, K) when trans_b; "
         "c: (M, N) or None. Returns a new (M, N) array of a's dtype.");
}

}  // namespace pyengine::bind::gemm

namespace pyengine::bind {
PE_BIND_FAMILY(gemm)
}

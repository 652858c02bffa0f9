// bind_optim.cpp — the in-place optimizer updates: sgd_step, adam_step, rmsprop_step, adagrad_step.
// Every array must be C-contiguous with param's dtype and shape; the ones written (param and the
// state buffers) must be writeable. Checked here so a direct _C call with bad input raises.
#include "bind_util.h"
#include "pyengine/optim.h"

namespace pyengine::bind {
namespace {

std::vector<index_t> shape_of(const py::array& a) {
  return std::vector<index_t>(a.shape(), a.shape() + a.ndim());
}

// Checks one array of the update against param (dtype, shape, contiguity, writeable when written).
void check_like(const char* fn, const char* name, const py::array& a, const py::array& param, DType dt,
                bool written) {
  check_same_dtype(fn, name, a, dt, "param");
  check_shape(fn, name, a, shape_of(param));
  check_contiguous(fn, name, a);
  if (written) check_writeable(fn, name, a);
}

// An optional state buffer: None (the kernel gets nullptr) or a checked array.
struct Optional {
  py::array arr;
  bool present = false;
};

Optional optional_buffer(const char* fn, const char* name, const py::object& obj, const py::array& param,
                         DType dt) {
  Optional o;
  if (obj.is_none()) return o;
  if (!py::isinstance<py::array>(obj)) type_error(cat(fn, ": ", name, " must be a numpy.ndarray or None"));
  o.arr = obj.cast<py::array>();
  check_like(fn, name, o.arr, param, dt, true);
  o.present = true;
  return o;
}

template <typename T>
T* opt_ptr(Optional& o) { return o.present ? ptr<T>(o.arr) : nullptr; }

DType check_param_grad(const char* fn, py::array& param, const py::array& grad) {
  DType dt = dtype_of(fn, "param", param);
  check_contiguous(fn, "param", param);
  check_writeable(fn, "param", param);
  check_like(fn, "grad", grad, param, dt, false);
  return dt;
}

index_t numel(const py::array& a) { return static_cast<index_t>(a.size()); }

}  // namespace

void bind_optim(py::module_& m) {
  m.def("sgd_step", [](py::array param, const py::array& grad, const py::object& buf_obj, double lr,
                       double momentum, double dampening, double weight_decay, bool nesterov, bool maximize,
                       bool first_step) {
    const char* fn = "sgd_step";
    DType dt = check_param_grad(fn, param, grad);
    Optional buf = optional_buffer(fn, "momentum_buffer", buf_obj, param, dt);
    const index_t n = numel(param);
    py::gil_scoped_release release;
    if (dt == DType::f32)
      cpu::sgd_step<float>(n, ptr<float>(param), cptr<float>(grad), opt_ptr<float>(buf), lr, momentum, dampening,
                           weight_decay, nesterov, maximize, first_step);
    else
      cpu::sgd_step<double>(n, ptr<double>(param), cptr<double>(grad), opt_ptr<double>(buf), lr, momentum,
                            dampening, weight_decay, nesterov, maximize, first_step);
  }, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("lr"), py::arg("momentum"),
     py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"),
     py::arg("first_step"), "In-place SGD update of param (and momentum_buffer); see pyengine/optim.h.");

  m.def("adam_step", [](py::array param, const py::array& grad, py::array exp_avg, py::array exp_avg_sq,
                        const py::object& vmax_obj, index_t step, double lr, double beta1, double beta2, double eps,
                        double weight_decay, bool decoupled, bool maximize) {
    const char* fn = "adam_step";
    DType dt = check_param_grad(fn, param, grad);
    check_like(fn, "exp_avg", exp_avg, param, dt, true);
    check_like(fn, "exp_avg_sq", exp_avg_sq, param, dt, true);
    Optional vmax = optional_buffer(fn, "max_exp_avg_sq", vmax_obj, param, dt);
    if (step < 1) value_error(cat(fn, ": step must be >= 1, got ", step));
    const index_t n = numel(param);
    py::gil_scoped_release release;
    if (dt == DType::f32)
      cpu::adam_step<float>(n, ptr<float>(param), cptr<float>(grad), ptr<float>(exp_avg), ptr<float>(exp_avg_sq),
                            opt_ptr<float>(vmax), step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize);
    else
      cpu::adam_step<double>(n, ptr<double>(param), cptr<double>(grad), ptr<double>(exp_avg),
                             ptr<double>(exp_avg_sq), opt_ptr<double>(vmax), step, lr, beta1, beta2, eps,
                             weight_decay, decoupled, maximize);
  }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
     py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
     py::arg("decoupled_weight_decay"), py::arg("maximize"),
     "In-place Adam/AdamW update of param and its moments; see pyengine/optim.h.");

  m.def("rmsprop_step", [](py::array param, const py::array& grad, py::array square_avg, const py::object& buf_obj,
                           const py::object& ga_obj, double lr, double alpha, double eps, double weight_decay,
                           double momentum, bool maximize) {
    const char* fn = "rmsprop_step";
    DType dt = check_param_grad(fn, param, grad);
    check_like(fn, "square_avg", square_avg, param, dt, true);
    Optional buf = optional_buffer(fn, "momentum_buffer", buf_obj, param, dt);
    Optional ga = optional_buffer(fn, "grad_avg", ga_obj, param, dt);
    const index_t n = numel(param);
    py::gil_scoped_release release;
    if (dt == DType::f32)
      cpu::rmsprop_step<float>(n, ptr<float>(param), cptr<float>(grad), ptr<float>(square_avg), opt_ptr<float>(buf),
                               opt_ptr<float>(ga), lr, alpha, eps, weight_decay, momentum, maximize);
    else
      cpu::rmsprop_step<double>(n, ptr<double>(param), cptr<double>(grad), ptr<double>(square_avg),
                                opt_ptr<double>(buf), opt_ptr<double>(ga), lr, alpha, eps, weight_decay, momentum,
                                maximize);
  }, py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("momentum_buffer"), py::arg("grad_avg"),
     py::arg("lr"), py::arg("alpha"), py::arg("eps"), py::arg("weight_decay"), py::arg("momentum"),
     py::arg("maximize"), "In-place RMSprop update; see pyengine/optim.h.");

  m.def("adagrad_step", [](py::array param, const py::array& grad, py::array state_sum, index_t step, double lr,
                           double lr_decay, double weight_decay, double eps, bool maximize) {
    const char* fn = "adagrad_step";
    DType dt = check_param_grad(fn, param, grad);
    check_like(fn, "state_sum", state_sum, param, dt, true);
    if (step < 1) value_error(cat(fn, ": step must be >= 1, got ", step));
    const index_t n = numel(param);
    py::gil_scoped_release release;
    if (dt == DType::f32)
      cpu::adagrad_step<float>(n, ptr<float>(param), cptr<float>(grad), ptr<float>(state_sum), step, lr, lr_decay,
                               weight_decay, eps, maximize);
    else
      cpu::adagrad_step<double>(n, ptr<double>(param), cptr<double>(grad), ptr<double>(state_sum), step, lr,
                                lr_decay, weight_decay, eps, maximize);
  }, py::arg("param"), py::arg("grad"), py::arg("state_sum"), py::arg("step"), py::arg("lr"), py::arg("lr_decay"),
     py::arg("weight_decay"), py::arg("eps"), py::arg("maximize"), "In-place Adagrad update; see pyengine/optim.h.");
}

}  // namespace pyengine::bind

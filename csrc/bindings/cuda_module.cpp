// cuda_module.cpp — pyengine._cuda: the CUDA kernels. Imports on a machine without a GPU or driver
// (cudart is linked statically); is_available() then answers False. The kernels are the family
// bindings (bind_<family>.cpp, compiled a second time with PYENGINE_CUDA_MODULE: the Cuda policy of
// bind.h); they take device arrays and launch on CuPy's current stream.
#include "bind.h"

namespace py = pybind11;
namespace pc = pyengine::cuda;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "pyengine CUDA kernels";
  m.def("device_count", &pc::device_count, "Number of usable CUDA devices (0 without driver or GPU).");
  m.def("is_available", [] { return pc::device_count() > 0; });
  m.def("last_error", &pc::last_error);
  m.def("runtime_version", &pc::runtime_version);
  m.def("driver_version", &pc::driver_version);
  m.def("device_name", &pc::device_name, py::arg("device") = 0);
  m.def("compute_capability", &pc::compute_capability, py::arg("device") = 0);
  m.def("total_memory", &pc::total_memory, py::arg("device") = 0);
  m.def("built_architectures", &pc::built_architectures);
  m.def("synchronize", [](int device) {
    int prev = -1;
    if (cudaGetDevice(&prev) != cudaSuccess) cudaGetLastError();
    if (prev != device && cudaSetDevice(device) != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error("synchronize: cannot make cuda:" + std::to_string(device) + " current");
    }
    cudaError_t err;
    {
      py::gil_scoped_release release;
      err = cudaDeviceSynchronize();
    }
    if (prev >= 0 && prev != device) cudaSetDevice(prev);
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error(std::string("synchronize: CUDA error ") + cudaGetErrorName(err) + ": " +
                               cudaGetErrorString(err));
    }
  }, py::arg("device") = 0, "Waits for all work on the device (the only host-side wait in this module).");
  pyengine::bind::bind_all(m);
}

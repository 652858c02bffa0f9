// cuda_module.cpp — pyengine._cuda: the CUDA kernels. Imports on a machine without a GPU or driver
// (cudart is linked statically); is_available() then answers False. The kernels take device
// arrays through __cuda_array_interface__ (cuda_bind_*.cpp) and launch on the stream they are given.
#include <pybind11/pybind11.h>

#include "cuda_bind_util.h"
#include "pyengine/cuda_runtime_info.h"

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
    pyengine::cudabind::DeviceGuard guard(device);
    py::gil_scoped_release release;
    const cudaError_t err = cudaDeviceSynchronize();
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error(std::string("synchronize: CUDA error ") + cudaGetErrorName(err) + ": " +
                               cudaGetErrorString(err));
    }
  }, py::arg("device") = 0, "Waits for all work on the device (the only host-side wait in this module).");
  pyengine::cudabind::bind_cuda_dense(m);
  pyengine::cudabind::bind_cuda_pointwise(m);
}

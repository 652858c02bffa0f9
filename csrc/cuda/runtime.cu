// runtime.cu — queries of the CUDA runtime for pyengine.info() and pyengine.cuda.*.
#include <cuda_runtime.h>

#include <string>

#include "pyengine/cuda_runtime_info.h"

namespace pyengine::cuda {
namespace {
std::string g_last_error;

bool ok(cudaError_t err) {
  if (err == cudaSuccess) return true;
  g_last_error = cudaGetErrorString(err);
  cudaGetLastError();  // clear the sticky error state of the runtime API
  return false;
}
}  // namespace

int device_count() {
  int n = 0;
  return ok(cudaGetDeviceCount(&n)) ? n : 0;
}

std::string last_error() { return g_last_error; }

int runtime_version() {
  int v = 0;
  return ok(cudaRuntimeGetVersion(&v)) ? v : 0;
}

int driver_version() {
  int v = 0;
  return ok(cudaDriverGetVersion(&v)) ? v : 0;
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  return ok(cudaGetDeviceProperties(&prop, device)) ? std::string(prop.name) : std::string();
}

int compute_capability(int device) {
  int major = 0, minor = 0;
  if (!ok(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device))) return 0;
  if (!ok(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device))) return 0;
  return major * 10 + minor;
}

long long total_memory(int device) {
  cudaDeviceProp prop{};
  return ok(cudaGetDeviceProperties(&prop, device)) ? static_cast<long long>(prop.totalGlobalMem) : 0;
}

std::string built_architectures() {
#ifdef PYENGINE_CUDA_ARCHS
  return PYENGINE_CUDA_ARCHS;
#else
  return "";
#endif
}

}  // namespace pyengine::cuda

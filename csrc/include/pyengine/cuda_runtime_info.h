// pyengine/cuda_runtime_info.h — what pyengine._cuda reports about the CUDA runtime and devices.
// Never throws and never aborts: on a machine with no driver or GPU, device_count() is 0 and
// last_error() says why.
#pragma once
#include <string>

namespace pyengine::cuda {

int device_count();                 // 0 when no driver or no GPU
std::string last_error();           // the runtime's message for the last failed query, or ""
int runtime_version();              // e.g. 13000
int driver_version();               // 0 when no driver
std::string device_name(int device);
int compute_capability(int device); // major*10 + minor
long long total_memory(int device); // bytes
std::string built_architectures();  // the SASS/PTX targets this module was compiled for

}  // namespace pyengine::cuda

# The fast kernels in csrc/cpu/isa/ are compiled once per instruction set, each copy in its own
# namespace (pyengine::cpu::<isa>); csrc/cpu/runtime.cpp picks one copy at import by CPUID and the
# callers reach it through the dispatch declared in pyengine/isa_dispatch.h.
# The default build never uses -march=native: a wheel built here runs on any x86-64.

function(pe_link_openmp target)
  if(OpenMP_CXX_FOUND)
    target_link_libraries(${target} PRIVATE OpenMP::OpenMP_CXX)
    target_compile_definitions(${target} PRIVATE PYENGINE_OPENMP=1)
  endif()
endfunction()

# PYENGINE_SANITIZE=address,undefined instruments _C and every ISA copy. Every report is fatal
# (-fno-sanitize-recover), frame pointers and -g keep the stacks readable, and -O1 (after the
# targets' -O3, so it wins) keeps the instrumented build a few minutes long (ASan's advice). Python
# itself is not instrumented, so the ASan runtime must be preloaded: see scripts/sanitize_tests.sh.
function(pe_sanitize target)
  if(PYENGINE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${PYENGINE_SANITIZE} -fno-sanitize-recover=all
                           -fno-omit-frame-pointer -g -O1)
    target_link_options(${target} PRIVATE -fsanitize=${PYENGINE_SANITIZE})
  endif()
endfunction()

file(GLOB PE_ISA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/csrc/cpu/isa/*.cpp)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  set(PE_ISAS avx512 avx2 generic)
else()
  set(PE_ISAS generic)
endif()
# A quicker instrumented build (scripts/fuzz.sh's clang build) may keep fewer copies, e.g.
# -DPYENGINE_ISAS="avx512;generic"; generic must stay (the dispatch falls back to it).
set(PYENGINE_ISAS "" CACHE STRING "The per-ISA copies to build (default: all of this processor's)")
if(PYENGINE_ISAS)
  set(PE_ISAS ${PYENGINE_ISAS})
endif()
set(PE_ISA_FLAGS_avx512 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c)
set(PE_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(PE_ISA_FLAGS_generic "")

set(PE_ISA_OBJECTS "")
set(PE_ISA_DEFINITIONS "")
foreach(isa IN LISTS PE_ISAS)
  add_library(pe_isa_${isa} OBJECT ${PE_ISA_SOURCES})
  target_include_directories(pe_isa_${isa} PRIVATE ${CMAKE_SOURCE_DIR}/csrc/include ${CMAKE_SOURCE_DIR}/csrc)
  target_compile_definitions(pe_isa_${isa} PRIVATE PYENGINE_ISA=${isa})
  target_compile_options(pe_isa_${isa} PRIVATE -O3 -Wall -Wextra ${PE_ISA_FLAGS_${isa}})
  pe_link_openmp(pe_isa_${isa})
  pe_sanitize(pe_isa_${isa})
  list(APPEND PE_ISA_OBJECTS $<TARGET_OBJECTS:pe_isa_${isa}>)
  string(TOUPPER ${isa} ISA_UPPER)
  list(APPEND PE_ISA_DEFINITIONS PYENGINE_HAVE_${ISA_UPPER}=1)
endforeach()

# The Cython core: plain-Python modules of pyengine compiled to extension modules of the same name,
# which Python's import then prefers to the .py next to them (Cython's "pure Python mode"). The .py
# stays the one source, and the fallback; a module's augmenting .pxd, when there is one, declares its
# cdef classes and the types it cimports. The generated C lives in the build tree only.
#
# Next to each extension goes <name>.sha256, the hash of the .py it was compiled from:
# pyengine/_compiled.py loads the .py instead when the two differ (a stale build) or when
# PYENGINE_PURE_PYTHON asks for it, so `python -m bench overhead` can time either.
#
# Which modules: those where `python -m bench overhead` shows the compiled one faster (README, speed).
option(PYENGINE_CYTHON "Compile the per-call core with Cython" ON)
set(PYENGINE_CYTHON_MODULES
    "pyengine/autograd/core;pyengine/autograd/engine;pyengine/nn/module;pyengine/autograd/ops;pyengine/autograd/device;pyengine/autograd/activation;pyengine/autograd/softmax;pyengine/autograd/linear;pyengine/autograd/conv2d;pyengine/autograd/pool2d;pyengine/autograd/batch_norm;pyengine/autograd/dropout;pyengine/autograd/lstm;pyengine/autograd/gru;pyengine/nn/layers;pyengine/nn/rnn"
    CACHE STRING "Modules (paths without .py) compiled with Cython")

if(PYENGINE_CYTHON)
  execute_process(COMMAND ${Python_EXECUTABLE} -c "import Cython; print(Cython.__version__)"
                  RESULT_VARIABLE PE_CYTHON_RC OUTPUT_VARIABLE PE_CYTHON_VERSION
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT PE_CYTHON_RC EQUAL 0)
    message(STATUS "Cython not found: the core stays plain Python (pip install cython to compile it)")
    set(PYENGINE_CYTHON OFF)
  else()
    message(STATUS "Cython ${PE_CYTHON_VERSION}: compiling ${PYENGINE_CYTHON_MODULES}")
  endif()
endif()

if(PYENGINE_CYTHON)
  enable_language(C)          # Cython writes C; the project itself is C++
  file(GLOB_RECURSE PE_PXD_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/pyengine/*.pxd)
  foreach(mod IN LISTS PYENGINE_CYTHON_MODULES)
    string(REPLACE "/" "." dotted "${mod}")                 # pyengine.autograd.core
    string(REPLACE "/" "_" target "cy_${mod}")              # cy_pyengine_autograd_core
    get_filename_component(name "${mod}" NAME)              # core
    get_filename_component(dir "${mod}" DIRECTORY)          # pyengine/autograd
    string(REGEX REPLACE "^pyengine/?" "" subdir "${dir}")  # autograd
    set(src ${CMAKE_SOURCE_DIR}/${mod}.py)
    set(c_file ${CMAKE_CURRENT_BINARY_DIR}/cython/${target}.c)
    set(hash_file ${CMAKE_CURRENT_BINARY_DIR}/cython/${name}.sha256.${target})
    add_custom_command(
      OUTPUT ${c_file} ${hash_file}
      COMMAND ${Python_EXECUTABLE} -m cython -3 --fast-fail -I ${CMAKE_SOURCE_DIR} --module-name ${dotted}
              -X boundscheck=False -X wraparound=True -X embedsignature=True ${src} -o ${c_file}
      COMMAND ${Python_EXECUTABLE} -c
              "import hashlib, sys; open(sys.argv[2], 'w').write(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())"
              ${src} ${hash_file}
      DEPENDS ${src} ${PE_PXD_FILES}
      COMMENT "Cython ${dotted}"
      VERBATIM)
    Python_add_library(${target} MODULE WITH_SOABI ${c_file})
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${name} PREFIX "")
    target_compile_options(${target} PRIVATE -O2 -Wno-unused-function -Wno-unreachable-code)
    if(SKBUILD)
      install(TARGETS ${target} DESTINATION ${dir})
      install(FILES ${hash_file} DESTINATION ${dir} RENAME ${name}.sha256)
    else()
      set(out_dir ${PYENGINE_MODULE_DIR}/${subdir})
      set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${out_dir})
      add_custom_command(TARGET ${target} POST_BUILD
                         COMMAND ${CMAKE_COMMAND} -E copy ${hash_file} ${out_dir}/${name}.sha256 VERBATIM)
    endif()
  endforeach()
endif()

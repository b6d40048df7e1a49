#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "pysim C++ core: cycle-level unit models, functional kernels, compat accounting";
  pysim::bindings::remember_main_thread();
  pysim::bindings::bind_systolic(m);
  pysim::bindings::bind_kernels(m);
  pysim::bindings::bind_scalesim(m);
  pysim::bindings::bind_memory(m);
  pysim::bindings::bind_tensor_core(m);
  pysim::bindings::bind_sparse(m);
  pysim::bindings::bind_bit_serial(m);
  pysim::bindings::bind_xnor(m);
  pysim::bindings::bind_lowp_kernels(m);
  pysim::bindings::bind_mapping(m);
  pysim::bindings::bind_residency(m);
  pysim::bindings::bind_row_stationary(m);
  pysim::bindings::bind_formats(m);
}

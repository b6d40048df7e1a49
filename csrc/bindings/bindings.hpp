// One bind function per header group; module.cpp only calls them.
#pragma once

#include <pybind11/pybind11.h>

namespace pysim::bindings {
void bind_systolic(pybind11::module_& m);
void bind_kernels(pybind11::module_& m);
void bind_scalesim(pybind11::module_& m);
void bind_memory(pybind11::module_& m);
void bind_tensor_core(pybind11::module_& m);
void bind_sparse(pybind11::module_& m);
void bind_bit_serial(pybind11::module_& m);
void bind_xnor(pybind11::module_& m);
void bind_mapping(pybind11::module_& m);
void bind_residency(pybind11::module_& m);
void bind_lowp_kernels(pybind11::module_& m);
void bind_row_stationary(pybind11::module_& m);
void bind_formats(pybind11::module_& m);
}  // namespace pysim::bindings

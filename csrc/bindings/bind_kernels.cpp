#include <pybind11/numpy.h>

#include <stdexcept>
#include <string>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "kernels/im2col.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

template <class T>
py::array run_im2col(const Conv2dShape& conv, const py::array& x_any) {
  check_im2col_output(conv, static_cast<int64_t>(sizeof(T)));  // before any allocation
  const auto x = as_c_array<T>(x_any, "x");
  const GemmShape g = conv2d_to_gemm(conv);
  py::array_t<T> out({g.m, g.k});
  const T* xp = x.data();
  T* op = out.mutable_data();
  without_gil([&](const Poll& poll) {
    im2col_into<T>(conv, xp, op, poll);
    return 0;
  });
  return out;
}

}  // namespace

void bind_kernels(py::module_& m) {
  py::class_<Conv2dShape>(m, "Conv2dShape", "A 2-D convolution layer (NHWC input).")
      .def(py::init([](int64_t batch, int64_t in_h, int64_t in_w, int64_t in_c, int64_t filter_h,
                       int64_t filter_w, int64_t filters, int64_t stride_h, int64_t stride_w,
                       int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w) {
             Conv2dShape c{batch,    in_h,     in_w,  in_c,  filter_h,   filter_w,  filters,
                           stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w};
             validate(c);
             return c;
           }),
           py::kw_only(), py::arg("batch") = 1, py::arg("in_h"), py::arg("in_w"),
           py::arg("in_c"), py::arg("filter_h"), py::arg("filter_w"), py::arg("filters"),
           py::arg("stride_h") = 1, py::arg("stride_w") = 1, py::arg("pad_h") = 0,
           py::arg("pad_w") = 0, py::arg("dilation_h") = 1, py::arg("dilation_w") = 1)
      .def_readonly("batch", &Conv2dShape::batch)
      .def_readonly("in_h", &Conv2dShape::in_h)
      .def_readonly("in_w", &Conv2dShape::in_w)
      .def_readonly("in_c", &Conv2dShape::in_c)
      .def_readonly("filter_h", &Conv2dShape::filter_h)
      .def_readonly("filter_w", &Conv2dShape::filter_w)
      .def_readonly("filters", &Conv2dShape::filters)
      .def_readonly("stride_h", &Conv2dShape::stride_h)
      .def_readonly("stride_w", &Conv2dShape::stride_w)
      .def_readonly("pad_h", &Conv2dShape::pad_h)
      .def_readonly("pad_w", &Conv2dShape::pad_w)
      .def_readonly("dilation_h", &Conv2dShape::dilation_h)
      .def_readonly("dilation_w", &Conv2dShape::dilation_w)
      .def_property_readonly("out_h", &conv_out_h)
      .def_property_readonly("out_w", &conv_out_w);

  m.def("conv2d_to_gemm", &conv2d_to_gemm, py::arg("conv"),
        "Lower a convolution to GEMM: M = batch*out_h*out_w, N = filters, K = Fh*Fw*Cin.");
  m.def(
      "im2col",
      [](const Conv2dShape& conv, const py::array& x) -> py::array {
        const py::ssize_t expect[] = {conv.batch, conv.in_h, conv.in_w, conv.in_c};
        bool ok = x.ndim() == 4;
        for (int i = 0; ok && i < 4; ++i) ok = x.shape(i) == expect[i];
        if (!ok) {
          throw std::invalid_argument("x must have shape (batch, in_h, in_w, in_c) = (" +
                                      std::to_string(conv.batch) + ", " +
                                      std::to_string(conv.in_h) + ", " +
                                      std::to_string(conv.in_w) + ", " +
                                      std::to_string(conv.in_c) + ")");
        }
        if (has_dtype<int8_t>(x)) return run_im2col<int8_t>(conv, x);
        if (has_dtype<int16_t>(x)) return run_im2col<int16_t>(conv, x);
        if (has_dtype<float>(x)) return run_im2col<float>(conv, x);
        throw std::invalid_argument("dtype must be int8, int16 or float32, got " +
                                    std::string(py::str(x.dtype())));
      },
      py::arg("conv"), py::arg("x"), "NHWC input -> (M, K) patch matrix, zeros for padding.");
}

}  // namespace pysim::bindings

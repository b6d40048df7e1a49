#include <pybind11/numpy.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "bindings/array_args.hpp"
#include "bindings/bindings.hpp"
#include "bindings/gil.hpp"
#include "kernels/quantize.hpp"

namespace py = pybind11;

namespace pysim::bindings {

namespace {

FloatSpecials specials_of(const std::string& name) {
  if (name == "ieee") return FloatSpecials::Ieee;
  if (name == "fn") return FloatSpecials::Fn;
  if (name == "none") return FloatSpecials::None;
  throw std::invalid_argument("specials must be ieee, fn or none, got '" + name + "'");
}

// x as float64 (flattened), the stochastic draws when given (one per element), and the
// per-block scales when given (one per `block` consecutive elements).
struct Inputs {
  CArray<double> x;
  std::optional<CArray<double>> u;
  std::optional<CArray<double>> scales;
  int64_t n = 0;
  int64_t block = 1;

  BlockScales block_scales() const {
    return scales ? BlockScales{scales->data(), block} : BlockScales{};
  }
};

Inputs inputs(const py::array& x_any, const std::optional<py::array>& u_any,
              const std::optional<py::array>& scales_any, int64_t block) {
  Inputs in{as_c_array<double>(x_any, "x"), std::nullopt, std::nullopt, 0, block};
  in.n = static_cast<int64_t>(in.x.size());
  if (u_any) {
    in.u = as_c_array<double>(*u_any, "u");
    if (static_cast<int64_t>(in.u->size()) != in.n) {
      throw std::invalid_argument("u must hold one draw per element of x (" +
                                  std::to_string(in.n) + "), got " +
                                  std::to_string(in.u->size()));
    }
  }
  if (block < 1 || (in.n > 0 && in.n % block != 0)) {
    throw std::invalid_argument("block must be >= 1 and divide the " + std::to_string(in.n) +
                                " elements of x, got " + std::to_string(block));
  }
  if (scales_any) {
    in.scales = as_c_array<double>(*scales_any, "scales");
    if (static_cast<int64_t>(in.scales->size()) != in.n / block) {
      throw std::invalid_argument("scales must hold one scale per block of " +
                                  std::to_string(block) + " elements (" +
                                  std::to_string(in.n / block) + "), got " +
                                  std::to_string(in.scales->size()));
    }
  }
  return in;
}

// The codes of in.x by encode(x, u, n, codes, poll), a kernel of quantize.hpp, run without the
// GIL into a new array of Code.
template <class Code, class Encode>
py::array run_encode(const Inputs& in, Encode encode) {
  py::array_t<Code> out(in.n);
  const double* xp = in.x.data();
  const double* up = in.u ? in.u->data() : nullptr;
  Code* op = out.mutable_data();
  const int64_t n = in.n;
  without_gil([&](const Poll& poll) {
    encode(xp, up, n, op, poll);
    return 0;
  });
  return out;
}

template <class Code>
py::array run_float(const Inputs& in, const FloatCodeFormat& f, bool saturate) {
  return run_encode<Code>(in, [&](const double* x, const double* u, int64_t n, Code* codes,
                                  const Poll& poll) {
    encode_float<Code>(x, u, n, f, saturate, codes, poll, in.block_scales());
  });
}

template <class Code>
py::array run_int(const Inputs& in, int frac_bits, int64_t qmin, int64_t qmax) {
  return run_encode<Code>(in, [&](const double* x, const double* u, int64_t n, Code* codes,
                                  const Poll& poll) {
    encode_int<Code>(x, u, n, frac_bits, qmin, qmax, codes, poll, in.block_scales());
  });
}

}  // namespace

void bind_formats(py::module_& m) {
  m.def("encode_isa", &encode_isa,
        "The loops encode_float / encode_int run: 'avx512' (vectorised) or 'portable' "
        "(PYSIM_DISABLE_CPU_FEATURES=avx512 forces it).");
  m.def(
      "encode_float",
      [](const py::array& x, int ebits, int mbits, int emin, int64_t max_code,
         const std::string& specials, bool saturate, const std::optional<py::array>& u,
         const std::optional<py::array>& scales, int64_t block) {
        FloatCodeFormat f{ebits, mbits, emin, max_code, specials_of(specials)};
        validate(f);
        const Inputs in = inputs(x, u, scales, block);
        const int bits = 1 + ebits + mbits;
        if (bits <= 8) return run_float<uint8_t>(in, f, saturate);
        if (bits <= 16) return run_float<uint16_t>(in, f, saturate);
        return run_float<uint32_t>(in, f, saturate);
      },
      py::arg("x"), py::kw_only(), py::arg("ebits"), py::arg("mbits"), py::arg("emin"),
      py::arg("max_code"), py::arg("specials"), py::arg("saturate"), py::arg("u") = py::none(),
      py::arg("scales") = py::none(), py::arg("block") = 1,
      "Codes (uint8 / 16 / 32 by width, flattened) of float64 x in a binary float format "
      "(pysim/formats/elements.py's encode_float, bit for bit); u: one uniform draw per "
      "element for stochastic rounding, else nearest-even. scales: x is divided by one scale "
      "per `block` consecutive elements first (a NaN scale gives 0). NaN is the caller's to "
      "refuse where the format has none.");
  m.def(
      "encode_codebook",
      [](const py::array& x, const py::array& values, const std::optional<py::array>& u,
         const std::optional<py::array>& scales, int64_t block) {
        const Inputs in = inputs(x, u, scales, block);
        const CArray<double> v = as_c_array<double>(values, "values");
        const double* vp = v.data();
        const int64_t nv = static_cast<int64_t>(v.size());
        return run_encode<uint8_t>(in, [&](const double* xp, const double* up, int64_t n,
                                           uint8_t* codes, const Poll& poll) {
          encode_codebook(xp, up, n, vp, nv, codes, poll, in.block_scales());
        });
      },
      py::arg("x"), py::kw_only(), py::arg("values"), py::arg("u") = py::none(),
      py::arg("scales") = py::none(), py::arg("block") = 1,
      "Code-book indices (uint8, flattened) of finite float64 x: the nearest of the sorted "
      "`values`, ties to the even index, or stochastic with u (encode_codebook, bit for "
      "bit); scales as for encode_float.");
  m.def(
      "encode_int",
      [](const py::array& x, int bits, bool is_signed, int frac_bits, int64_t qmin,
         int64_t qmax, const std::optional<py::array>& u, const std::optional<py::array>& scales,
         int64_t block) {
        if (bits < 1 || bits > 16) {
          throw std::invalid_argument("bits must be in [1, 16], got " + std::to_string(bits));
        }
        const Inputs in = inputs(x, u, scales, block);
        if (is_signed) {
          return bits <= 8 ? run_int<int8_t>(in, frac_bits, qmin, qmax)
                           : run_int<int16_t>(in, frac_bits, qmin, qmax);
        }
        return bits <= 8 ? run_int<uint8_t>(in, frac_bits, qmin, qmax)
                         : run_int<uint16_t>(in, frac_bits, qmin, qmax);
      },
      py::arg("x"), py::kw_only(), py::arg("bits"), py::arg("signed"), py::arg("frac_bits"),
      py::arg("qmin"), py::arg("qmax"), py::arg("u") = py::none(),
      py::arg("scales") = py::none(), py::arg("block") = 1,
      "Integer codes (int8 / int16, or unsigned, by bits and signed; flattened) of finite "
      "float64 x: round(x * 2^frac_bits) clamped to qmin..qmax (encode_int, bit for bit); "
      "scales as for encode_float.");
}

}  // namespace pysim::bindings

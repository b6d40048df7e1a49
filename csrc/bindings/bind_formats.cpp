#include <pybind11/numpy.h>

#include <algorithm>
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

InputType input_type(const py::array& x) {
  const py::dtype dt = x.dtype();
  const std::string name = py::str(dt);
  if (dt.kind() == 'f' && dt.itemsize() == 4) return InputType::F32;
  if (dt.kind() == 'f' && dt.itemsize() == 8) return InputType::F64;
  if (dt.kind() == 'f' && dt.itemsize() == 2) return InputType::F16;
  if (name == "bfloat16" && dt.itemsize() == 2) return InputType::BF16;
  throw std::invalid_argument("x must be float16, bfloat16, float32 or float64, got " + name);
}

// x in its own dtype, C-contiguous, aligned and in native byte order (a copy if not).
py::array c_array_as_is(const py::array& x, const char* name) {
  if (x.dtype().byteorder() == '>') {
    throw std::invalid_argument(std::string(name) + " must be in native byte order");
  }
  py::array out = py::array::ensure(x, py::array::c_style | kAlignedFlag);
  if (!out) {
    throw std::invalid_argument(std::string("could not read ") + name +
                                " as a contiguous aligned array");
  }
  return out;
}

Reject reject_of(const std::string& name) {
  if (name == "none") return Reject::None;
  if (name == "nan") return Reject::NaN;
  if (name == "nonfinite") return Reject::NonFinite;
  throw std::invalid_argument("reject must be none, nan or nonfinite, got '" + name + "'");
}

ElementKind element_of(const std::string& name) {
  if (name == "float") return ElementKind::Float;
  if (name == "int") return ElementKind::Int;
  if (name == "codebook") return ElementKind::Codebook;
  throw std::invalid_argument("element must be float, int or codebook, got '" + name + "'");
}

ScaleKind scale_of(const std::string& name) {
  if (name == "none") return ScaleKind::None;
  if (name == "e8m0") return ScaleKind::E8M0;
  if (name == "float") return ScaleKind::Float;
  throw std::invalid_argument("scale must be none, e8m0 or float, got '" + name + "'");
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
  m.def(
      "quantize_fused",
      [](const py::array& x_any, int64_t block, const std::string& element, int ebits,
         int mbits, int emin, int64_t max_code, const std::string& specials, bool saturate,
         int bits, int frac_bits, int64_t qmin, int64_t qmax,
         const std::optional<py::array>& values, const std::string& scale, int scale_ebits,
         int scale_mbits, int scale_emin, int64_t scale_max_code,
         const std::string& scale_specials, int emax, double max_abs,
         const std::string& reject, const std::optional<py::array>& u_any) -> py::object {
        const InputType in = input_type(x_any);
        const py::array x = c_array_as_is(x_any, "x");
        const int64_t n = static_cast<int64_t>(x.size());
        ElementSpec e;
        e.kind = element_of(element);
        int code_bytes = 1;
        std::optional<CArray<double>> v;
        if (e.kind == ElementKind::Float) {
          e.fmt = FloatCodeFormat{ebits, mbits, emin, max_code, specials_of(specials)};
          validate(e.fmt);
          const int width = 1 + ebits + mbits;
          code_bytes = width <= 8 ? 1 : width <= 16 ? 2 : 4;
          e.saturate = saturate;
        } else if (e.kind == ElementKind::Int) {
          if (bits < 1 || bits > 16) {
            throw std::invalid_argument("bits must be in [1, 16], got " + std::to_string(bits));
          }
          code_bytes = bits <= 8 ? 1 : 2;
          e.frac_bits = frac_bits;
          e.qmin = qmin;
          e.qmax = qmax;
        } else {
          if (!values) throw std::invalid_argument("a code book needs values");
          v = as_c_array<double>(*values, "values");
          e.values = v->data();
          e.n_values = static_cast<int64_t>(v->size());
        }
        ScaleSpec sp;
        sp.kind = scale_of(scale);
        if (sp.kind == ScaleKind::Float) {
          sp.fmt = FloatCodeFormat{scale_ebits, scale_mbits, scale_emin, scale_max_code,
                                   specials_of(scale_specials)};
          validate(sp.fmt);
        }
        sp.emax = emax;
        sp.max_abs = max_abs;
        if (sp.kind == ScaleKind::None) block = std::max<int64_t>(n, 1);
        if (block < 1 || (n > 0 && n % block != 0)) {
          throw std::invalid_argument("block must be >= 1 and divide the " +
                                      std::to_string(n) + " elements of x, got " +
                                      std::to_string(block));
        }
        std::optional<CArray<double>> u;
        if (u_any) {
          u = as_c_array<double>(*u_any, "u");
          if (static_cast<int64_t>(u->size()) != n) {
            throw std::invalid_argument("u must hold one draw per element of x (" +
                                        std::to_string(n) + "), got " +
                                        std::to_string(u->size()));
          }
        }
        const Reject rj = reject_of(reject);
        require_output_bytes("codes", static_cast<double>(n), code_bytes);
        py::array codes = code_bytes == 1   ? py::array(py::array_t<uint8_t>(n))
                          : code_bytes == 2 ? py::array(py::array_t<uint16_t>(n))
                                            : py::array(py::array_t<uint32_t>(n));
        const int64_t n_scales = sp.kind == ScaleKind::None || n == 0 ? 0 : n / block;
        py::array_t<float> scales(n_scales);
        const void* xp = x.data();
        void* cp = codes.mutable_data();
        float* sp_out = scales.mutable_data();
        const double* up = u ? u->data() : nullptr;
        const FusedStatus st = without_gil([&](const Poll& poll) {
          return quantize_fused(xp, in, n, block, e, sp, rj, up, cp, code_bytes, sp_out, poll);
        });
        if (st != FusedStatus::Ok) return py::none();
        return py::make_tuple(codes, sp.kind == ScaleKind::None ? py::object(py::none())
                                                                 : py::object(scales));
      },
      py::arg("x"), py::kw_only(), py::arg("block"), py::arg("element"), py::arg("ebits") = 0,
      py::arg("mbits") = 0, py::arg("emin") = 0, py::arg("max_code") = 0,
      py::arg("specials") = "ieee", py::arg("saturate") = false, py::arg("bits") = 8,
      py::arg("frac_bits") = 0, py::arg("qmin") = 0, py::arg("qmax") = 0,
      py::arg("values") = py::none(), py::arg("scale") = "none", py::arg("scale_ebits") = 8,
      py::arg("scale_mbits") = 23, py::arg("scale_emin") = -126,
      py::arg("scale_max_code") = 2139095039, py::arg("scale_specials") = "ieee",
      py::arg("emax") = 0, py::arg("max_abs") = 1.0, py::arg("reject") = "none",
      py::arg("u") = py::none(),
      "pysim.formats.quantize's path in one or two passes over x (float16, bfloat16, float32 "
      "or float64, flattened, read in its own dtype): per block of `block` elements its "
      "largest magnitude, its scale (scale: 'e8m0' MX v1.0 Section 6.3, 'float' absmax / "
      "max_abs rounded to nearest even in the scale_* float format, 'none' unscaled), and the "
      "codes of x / scale in the element format (element 'float' with ebits.. saturate, 'int' "
      "with bits.. qmax, 'codebook' with values); bit for bit the NumPy path. Returns (codes "
      "uint8 / 16 / 32 flattened, scales float32 or None), or None where the NumPy path "
      "raises (a value `reject` names, a scale out of range): the caller reruns it for the "
      "message. u: one draw per element for stochastic rounding.");
  m.def(
      "dequantize_fused",
      [](const py::array& codes_any, const py::array& table_any,
         const std::optional<py::array>& scales_any, int64_t block, const std::string& half,
         const std::optional<py::array>& out_any) -> py::object {
        if (!half.empty() && half != "bf16" && half != "fp16") {
          throw std::invalid_argument("half must be '', 'bf16' or 'fp16', got '" + half + "'");
        }
        const HalfKind half_kind = half.empty()      ? HalfKind::None
                                   : half == "bf16" ? HalfKind::BF16
                                                    : HalfKind::F16;
        const char kind = codes_any.dtype().kind();
        const int64_t width = static_cast<int64_t>(codes_any.dtype().itemsize());
        if ((kind != 'u' && kind != 'i') || (width != 1 && width != 2)) {
          throw std::invalid_argument("codes must be 8- or 16-bit integers, got dtype " +
                                      dtype_name(codes_any));
        }
        const py::array codes = c_array_as_is(codes_any, "codes");
        const CArray<float> table = as_c_array<float>(table_any, "table");
        const int64_t n = static_cast<int64_t>(codes.size());
        std::optional<CArray<float>> scales;
        if (scales_any) {
          if (block < 1 || (n > 0 && n % block != 0)) {
            throw std::invalid_argument("block must be >= 1 and divide the " +
                                        std::to_string(n) + " codes, got " +
                                        std::to_string(block));
          }
          scales = as_c_array<float>(*scales_any, "scales");
          if (static_cast<int64_t>(scales->size()) != n / block) {
            throw std::invalid_argument("scales must hold one scale per block of " +
                                        std::to_string(block) + " codes (" +
                                        std::to_string(n / block) + "), got " +
                                        std::to_string(scales->size()));
          }
        } else {
          block = std::max<int64_t>(n, 1);
        }
        py::array out;
        if (out_any) {  // the caller's buffer: float32, C-contiguous, writeable, n values
          const py::array& o = *out_any;
          if (o.dtype().kind() != 'f' || o.dtype().itemsize() != 4 ||
              !(o.flags() & py::array::c_style) || !o.writeable() ||
              static_cast<int64_t>(o.size()) != n) {
            throw std::invalid_argument(
                "out must be a writeable C-contiguous float32 array of " + std::to_string(n) +
                " values, got dtype " + dtype_name(o) + " of " + std::to_string(o.size()) +
                (o.writeable() ? "" : ", read-only") +
                ((o.flags() & py::array::c_style) ? "" : ", not C-contiguous"));
          }
          const auto* ob = static_cast<const char*>(o.data());
          const auto* cb = static_cast<const char*>(codes.data());
          if (n > 0 && ob < cb + n * width && cb < ob + n * 4) {
            // the kernel checks each claim's codes against the table, then reads them again
            throw std::invalid_argument("out must not overlap codes");
          }
          out = o;
        } else {
          require_output_bytes("values", static_cast<double>(n), 4);
          out = py::array_t<float>(n);
        }
        const void* cp = codes.data();
        const float* tp = table.data();
        const int64_t tn = static_cast<int64_t>(table.size());
        const float* spp = scales ? scales->data() : nullptr;
        float* op = static_cast<float*>(out.mutable_data());
        const bool ok = without_gil([&](const Poll& poll) {
          return dequantize_fused(cp, static_cast<int>(width), n, tp, tn, spp, block, op, poll,
                                  half_kind);
        });
        if (!ok) return py::none();
        return out;
      },
      py::arg("codes"), py::kw_only(), py::arg("table"), py::arg("scales") = py::none(),
      py::arg("block") = 1, py::arg("half") = "", py::arg("out") = py::none(),
      "float32 values (flattened) table[codes] * scales[i // block] (a float32 product, as "
      "NumPy's), codes 8- or 16-bit read as unsigned; scales None: table[codes]. None if a "
      "code is not below len(table) (the NumPy path raises IndexError there). half 'bf16' / "
      "'fp16': the codes are unscaled bfloat16 / binary16 words and table their decode table "
      "(NaN canonical), converted rather than looked up. out: a writeable C-contiguous "
      "float32 array of len(codes) values to write them into (returned), else a new one.");
}

}  // namespace pysim::bindings

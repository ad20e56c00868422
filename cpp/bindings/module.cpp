// Python bindings: numpy in, numpy out, the GIL released around every call that does real work.
// Arguments are checked here too, so a misuse of the private API raises instead of crashing.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "codec/vector_set.h"
#include "index/hnsw.h"
#include "index/search.h"
#include "io/row_reader.h"
#include "simd/kernels.h"
#include "bindings/common.h"

namespace nb = nanobind;
using namespace nb::literals;
using namespace vqdb;
using namespace vqdb::bindings;

namespace vqdb::bindings {

void check_search(const Hnsw* graph, const VectorSet& walk, const VectorSet* rescore,
                  const RowReader* reader, size_t limit, size_t allowed_words) {
  require(!rescore || rescore->multi() == walk.multi(),
          "the rescoring set must be a multivector set exactly when the walked set is");
  require(!reader || !walk.multi(), "multivector originals are rescored in place");
  require(limit > 0, "limit must be positive");
  require(!rescore || (rescore->size() == walk.size() && rescore->dim() == walk.dim()),
          "the rescoring set must hold the same vectors as the walked set");
  require(!reader || (rescore && reader->rows() == rescore->size() &&
                      reader->row_bytes() == rescore->code_bytes()),
          "the reader must read the rescoring set's rows");
  require(!graph || graph->size() == walk.size(), "the graph does not cover the walked set");
  require(allowed_words == std::numeric_limits<size_t>::max() || allowed_words * 64 >= walk.size(),
          "the allowed bitset is too short");
}

// Here rather than in Python: numpy's isfinite(...).all() was ~2 us of a one-query call.
void check_finite(const float* rows, size_t n, size_t dim) {
  for (size_t q = 0; q < n; ++q) {
    const float* row = rows + q * dim;
    if (!std::all_of(row, row + dim, [](float v) { return std::isfinite(v); }))
      throw std::invalid_argument("queries contain NaN or infinity (row " + std::to_string(q) + ")");
  }
}

}  // namespace vqdb::bindings

namespace {

template <class T>
void same_shape(const In2<T>& a, const In2<T>& b) {
  require(a.shape(0) == b.shape(0) && a.shape(1) == b.shape(1),
          "both arguments must have the same shape");
}

// Pairwise row kernels for the tests: out[i] = kernel(a[i], b[i]) at the active SIMD level.
template <class T, class R, class K>
Out<R> rowwise(const In2<T>& a, const In2<T>& b, K kernel) {
  same_shape(a, b);
  auto out = empty<R>({a.shape(0)});
  {
    nb::gil_scoped_release release;
    for (size_t i = 0; i < a.shape(0); ++i)
      out.data()[i] = R(kernel(a.data() + i * a.shape(1), b.data() + i * b.shape(1), a.shape(1)));
  }
  return out;
}

// The four-row kernels over every row (the last group repeats rows to fill four).
template <class T, class R, class K>
Out<R> four(const In1<T>& q, const In2<T>& rows, K kernel) {
  require(q.shape(0) == rows.shape(1), "query and rows must have the same dimension");
  const size_t n = rows.shape(0);
  auto out = empty<R>({n});
  nb::gil_scoped_release release;
  for (size_t i = 0; i < n; i += 4) {
    const T* r[4];
    R o[4];
    for (size_t j = 0; j < 4; ++j) r[j] = rows.data() + std::min(i + j, n - 1) * rows.shape(1);
    kernel(q.data(), r, q.shape(0), o);
    for (size_t j = 0; j < 4 && i + j < n; ++j) out.data()[i + j] = o[j];
  }
  return out;
}

// A float32 query row against each stored row of a narrower type (float16 bits, uint8):
// out[i] = kernel(q[i], x[i]).
template <class T, class K>
Out<float> widening(const In2<float>& q, const In2<T>& x, K kernel) {
  require(q.shape(0) == x.shape(0) && q.shape(1) == x.shape(1),
          "both arguments must have the same shape");
  auto out = empty<float>({q.shape(0)});
  nb::gil_scoped_release release;
  for (size_t i = 0; i < q.shape(0); ++i)
    out.data()[i] = kernel(q.data() + i * q.shape(1), x.data() + i * x.shape(1), q.shape(1));
  return out;
}

nb::dict to_python(const State& state) {
  nb::module_ np = nb::module_::import_("numpy");
  nb::dict out;
  for (const auto& [name, array] : state) {
    nb::tuple shape = nb::steal<nb::tuple>(PyTuple_New(Py_ssize_t(array.shape.size())));
    for (size_t i = 0; i < array.shape.size(); ++i)
      PyTuple_SET_ITEM(shape.ptr(), Py_ssize_t(i), PyLong_FromSize_t(array.shape[i]));
    nb::bytes raw(reinterpret_cast<const char*>(array.bytes.data()), array.bytes.size());
    out[name.c_str()] = np.attr("frombuffer")(raw, "dtype"_a = array.dtype).attr("reshape")(shape).attr("copy")();
  }
  return out;
}

using AnyArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

std::string dtype_name(const nb::dlpack::dtype& t) {
  const char* kind = t.code == uint8_t(nb::dlpack::dtype_code::Float)  ? "float"
                     : t.code == uint8_t(nb::dlpack::dtype_code::UInt) ? "uint"
                     : t.code == uint8_t(nb::dlpack::dtype_code::Int)  ? "int"
                                                                       : "other";
  return std::string(kind) + std::to_string(t.bits);
}

// Borrows the arrays' buffers: the State must not outlive `arrays`.
State from_python(const std::map<std::string, AnyArray>& arrays) {
  State state;
  for (const auto& [name, a] : arrays) {
    Array array;
    array.dtype = dtype_name(a.dtype());
    for (size_t i = 0; i < a.ndim(); ++i) array.shape.push_back(a.shape(i));
    array.borrowed = static_cast<const uint8_t*>(a.data());
    array.borrowed_size = a.nbytes();
    state[name] = std::move(array);
  }
  return state;
}

void check_rows(const VectorSet& set, const In2<float>& x) {
  require(x.shape(1) == set.dim(), "expected vectors of dimension " + std::to_string(set.dim()) +
                                       ", got " + std::to_string(x.shape(1)));
}

void check_offsets(const VectorSet& set, const In1<uint32_t>& ids) {
  for (size_t i = 0; i < ids.shape(0); ++i)
    require(ids.data()[i] < set.size(), "offset " + std::to_string(ids.data()[i]) +
                                            " is out of range for a set of " +
                                            std::to_string(set.size()) + " vectors");
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "vqdb native core: SIMD kernels, quantizers, HNSW, the sparse index and the search "
            "pipeline";

  // ---- SIMD dispatch -------------------------------------------------------------------------
  m.def("simd_level", [] { return std::string(simd::level_name(simd::level())); },
        "The instruction set the kernels use now: 'serial', 'avx2' or 'avx512'.");
  m.def("max_simd_level", [] { return std::string(simd::level_name(simd::max_level())); },
        "The best instruction set this CPU supports.");
  m.def("set_simd_level", [](const std::string& name) { simd::set_level(simd::parse_level(name)); },
        "name"_a, "Force a level at or below max_simd_level() (for tests and comparisons).");

  // ---- Kernels, row by row (tests and micro-benchmarks) --------------------------------------
  m.def("dot_f32", [](In2<float> a, In2<float> b) { return rowwise<float, float>(a, b, simd::active().dot_f32); }, "a"_a, "b"_a);
  m.def("l2_f32", [](In2<float> a, In2<float> b) { return rowwise<float, float>(a, b, simd::active().l2_f32); }, "a"_a, "b"_a);
  m.def("l1_f32", [](In2<float> a, In2<float> b) { return rowwise<float, float>(a, b, simd::active().l1_f32); }, "a"_a, "b"_a);
  m.def("dot4_f32", [](In1<float> q, In2<float> rows) {
    return four<float, float>(q, rows, simd::active().dot4_f32); }, "q"_a, "rows"_a, "Four rows at a time.");
  m.def("l24_f32", [](In1<float> q, In2<float> rows) {
    return four<float, float>(q, rows, simd::active().l24_f32); }, "q"_a, "rows"_a, "Four rows at a time.");
  m.def("dot_u8", [](In2<uint8_t> a, In2<uint8_t> b) { return rowwise<uint8_t, int32_t>(a, b, simd::active().dot_u8); }, "a"_a, "b"_a);
  m.def("dot4_u8", [](In1<uint8_t> q, In2<uint8_t> rows) {
    return four<uint8_t, int32_t>(q, rows, simd::active().dot4_u8); }, "q"_a, "rows"_a, "Four rows at a time.");
  m.def("dot4_s8u8", [](In1<int8_t> q, In2<uint8_t> rows) {
    require(q.shape(0) == rows.shape(1), "query and rows must have the same dimension");
    const size_t n = rows.shape(0), dim = rows.shape(1);
    auto out = empty<int32_t>({n});
    nb::gil_scoped_release release;
    for (size_t i = 0; i < n; i += 4) {
      const uint8_t* r[4];
      int32_t o[4];
      for (size_t j = 0; j < 4; ++j) r[j] = rows.data() + std::min(i + j, n - 1) * dim;
      simd::active().dot4_s8u8(q.data(), r, dim, o);
      for (size_t j = 0; j < 4 && i + j < n; ++j) out.data()[i + j] = o[j];
    }
    return out; }, "q"_a, "rows"_a, "Signed int8 query against four uint8 code rows at a time.");
  m.def("dot_s8u8", [](In1<int8_t> q, In2<uint8_t> rows) {
    require(q.shape(0) == rows.shape(1), "query and rows must have the same dimension");
    auto out = empty<int32_t>({rows.shape(0)});
    nb::gil_scoped_release release;
    for (size_t i = 0; i < rows.shape(0); ++i)
      out.data()[i] = simd::active().dot_s8u8(q.data(), rows.data() + i * rows.shape(1), rows.shape(1));
    return out; }, "q"_a, "rows"_a, "Signed int8 query against each uint8 code row.");
  m.def("l2_u8", [](In2<uint8_t> a, In2<uint8_t> b) { return rowwise<uint8_t, int32_t>(a, b, simd::active().l2_u8); }, "a"_a, "b"_a);
  m.def("l1_u8", [](In2<uint8_t> a, In2<uint8_t> b) { return rowwise<uint8_t, int32_t>(a, b, simd::active().l1_u8); }, "a"_a, "b"_a);
  m.def("hamming_b1", [](In2<uint64_t> a, In2<uint64_t> b) { return rowwise<uint64_t, uint32_t>(a, b, simd::active().hamming_b1); }, "a"_a, "b"_a);
  m.def("hamming_b1_rows", [](In1<uint64_t> query, In2<uint64_t> rows) {
    require(query.shape(0) == rows.shape(1), "query and rows must have the same number of words");
    auto out = empty<uint32_t>({rows.shape(0)});
    nb::gil_scoped_release release;
    simd::active().hamming_b1_rows(query.data(), rows.data(), rows.shape(0), rows.shape(1), out.data());
    return out;
  }, "query"_a, "rows"_a, "out[i] = popcount(query ^ rows[i])");
  m.def("andpop_b1", [](In2<uint64_t> planes, In2<uint64_t> x) {
    require(planes.shape(1) == x.shape(1), "planes and codes must have the same number of words");
    require(planes.shape(0) <= 8, "at most 8 query planes");
    auto out = empty<uint32_t>({x.shape(0)});
    nb::gil_scoped_release release;
    for (size_t i = 0; i < x.shape(0); ++i)
      out.data()[i] = simd::active().andpop_b1(planes.data(), planes.shape(0),
                                               x.data() + i * x.shape(1), x.shape(1));
    return out;
  }, "planes"_a, "x"_a, "out[i] = sum over p of 2^p * popcount(planes[p] & x[i])");
  m.def("turbo_planes", [](In2<uint64_t> query, In2<uint64_t> x, size_t n_planes,
                           std::optional<size_t> words1) {
    const size_t words = query.shape(1), w1 = words1.value_or(words);
    require(query.shape(0) == 8, "the query has 8 planes");
    require(n_planes >= 1 && w1 <= words && x.shape(1) == words + (n_planes - 1) * w1,
            "each code row must hold plane 0 of the query's words, then words1 words a plane");
    auto out = empty<int64_t>({x.shape(0)});
    nb::gil_scoped_release release;
    for (size_t i = 0; i < x.shape(0); ++i)
      out.data()[i] = simd::active().turbo_planes(query.data(), x.data() + i * x.shape(1), n_planes,
                                                  words, w1);
    return out;
  }, "query"_a, "x"_a, "n_planes"_a, "words1"_a = nb::none(),
     "out[i] = sum_j q_j k_j: q the signed 8-bit query in planes, k_j row i's n_planes-bit codes "
     "(planes after the first cut to words1 words, default all)");
  m.def("turbo_pair", [](In1<uint64_t> a, In1<uint64_t> b, size_t n_planes) {
    require(n_planes >= 1 && a.shape(0) == b.shape(0) && a.shape(0) % n_planes == 0,
            "a and b must each hold n_planes planes of the same words");
    int64_t out[3];
    simd::active().turbo_pair(a.data(), b.data(), n_planes, a.shape(0) / n_planes, out);
    return std::make_tuple(out[0], out[1], out[2]);
  }, "a"_a, "b"_a, "n_planes"_a, "(sum k_a k_b, sum k_a, sum k_b) of two codes' bit planes");
  m.def("turbo_pair15", [](In1<uint64_t> a, In1<uint64_t> b, In1<uint64_t> mask1) {
    const size_t words1 = mask1.shape(0), words = a.shape(0) - std::min(a.shape(0), words1);
    require(a.shape(0) == b.shape(0) && words1 >= 1 && words1 <= words,
            "a and b must each hold plane 0, then plane 1 of the mask's words");
    int64_t out[4];
    simd::active().turbo_pair15(a.data(), b.data(), words, words1, mask1.data(), out);
    return std::make_tuple(out[0], out[1], out[2], out[3]);
  }, "a"_a, "b"_a, "mask1"_a,
     "bits1_5 codes: (sum k_a k_b, sum k_a + k_b) over mask1's coordinates, then over the rest");
  m.def("turbo_nibbles", [](In1<int8_t> query, In2<uint8_t> x) {
    require(query.shape(0) == 2 * x.shape(1), "the query has two bytes per code byte");
    auto out = empty<int32_t>({x.shape(0)});
    nb::gil_scoped_release release;
    for (size_t i = 0; i < x.shape(0); ++i)
      out.data()[i] = simd::active().turbo_nibbles(query.data(), x.data() + i * x.shape(1), x.shape(1));
    return out;
  }, "query"_a, "x"_a,
     "out[i] = sum_j q[j] (x[i, j] & 15) + q[bytes + j] (x[i, j] >> 4), bytes = x.shape[1]");
  m.def("turbo_nibble_pair", [](In1<uint8_t> a, In1<uint8_t> b) {
    require(a.shape(0) == b.shape(0), "a and b must have the same bytes");
    int32_t out[3];
    simd::active().turbo_nibble_pair(a.data(), b.data(), a.shape(0), out);
    return std::make_tuple(out[0], out[1], out[2]);
  }, "a"_a, "b"_a, "(sum k_a k_b, sum k_a, sum k_b) over two codes' nibbles");
  m.def("adc_pq_u8", [](In2<uint8_t> table, In2<uint8_t> codes) {
    require(table.shape(1) == 256, "the table must have 256 columns");
    require(codes.shape(1) == table.shape(0), "codes must have one byte per table row");
    auto out = empty<uint32_t>({codes.shape(0)});
    nb::gil_scoped_release release;
    for (size_t i = 0; i < codes.shape(0); ++i)
      out.data()[i] = simd::adc_pq_u8(table.data(), codes.data() + i * codes.shape(1), codes.shape(1));
    return out;
  }, "table"_a, "codes"_a, "out[i] = sum over m of table[m, codes[i, m]]");
  m.def("dot_f16", [](In2<float> q, In2<uint16_t> x) { return widening(q, x, simd::active().dot_f16); }, "q"_a, "x"_a,
        "float32 rows against float16 rows (their bits as uint16).");
  m.def("l2_f16", [](In2<float> q, In2<uint16_t> x) { return widening(q, x, simd::active().l2_f16); }, "q"_a, "x"_a);
  m.def("l1_f16", [](In2<float> q, In2<uint16_t> x) { return widening(q, x, simd::active().l1_f16); }, "q"_a, "x"_a);
  m.def("dot_u8f32", [](In2<float> q, In2<uint8_t> x) { return widening(q, x, simd::active().dot_u8f32); }, "q"_a, "x"_a,
        "float32 rows against uint8 rows (values 0..255).");
  m.def("l2_u8f32", [](In2<float> q, In2<uint8_t> x) { return widening(q, x, simd::active().l2_u8f32); }, "q"_a, "x"_a);
  m.def("l1_u8f32", [](In2<float> q, In2<uint8_t> x) { return widening(q, x, simd::active().l1_u8f32); }, "q"_a, "x"_a);
  m.def("cos_u8f32", [](In2<float> q, In2<uint8_t> x) { return widening(q, x, simd::active().cos_u8f32); }, "q"_a, "x"_a,
        "dot(q[i], x[i]) / |x[i]| (0 for a zero row).");
  m.def("pq_assign", [](In2<float> x, In2<float> centroids_t) {
    require(centroids_t.shape(1) == 256 && centroids_t.shape(0) == x.shape(1) && x.shape(1) <= 16,
            "centroids must be (w, 256) with w = x.shape[1] <= 16");
    auto codes = empty<uint8_t>({x.shape(0)});
    auto dists = empty<float>({x.shape(0)});
    nb::gil_scoped_release release;
    simd::active().pq_assign(x.data(), x.shape(0), x.shape(1), x.shape(1), centroids_t.data(),
                             codes.data(), dists.data());
    return std::make_pair(codes, dists);
  }, "x"_a, "centroids_t"_a);

  // ---- Vector sets: originals and quantized copies -------------------------------------------
  nb::class_<VectorSet>(m, "VectorSet", "Stored vectors with a codec that scores queries against them.")
      .def_static("float32", [](size_t dim, const std::string& metric) {
        return make_float_set(dim, parse_metric(metric)); }, "dim"_a, "metric"_a)
      .def_static("float16", [](size_t dim, const std::string& metric) {
        return make_float16_set(dim, parse_metric(metric)); }, "dim"_a, "metric"_a,
        "Originals as float16 (2 bytes a dimension), rounded to nearest even.")
      .def_static("uint8", [](size_t dim, const std::string& metric) {
        return make_uint8_set(dim, parse_metric(metric)); }, "dim"_a, "metric"_a,
        "Originals as uint8 (1 byte a dimension): truncated and saturated to 0..255.")
      .def_static("scalar", [](size_t dim, const std::string& metric, float quantile) {
        return make_scalar_set(dim, parse_metric(metric), quantile); }, "dim"_a, "metric"_a, "quantile"_a = 1.0f)
      .def_static("binary", [](size_t dim, const std::string& metric, const std::string& encoding,
                               const std::string& query_encoding, float center) {
        BinaryEncoding e;
        if (encoding == "one_bit") e = BinaryEncoding::one_bit;
        else if (encoding == "one_and_half_bits") e = BinaryEncoding::one_and_half_bits;
        else if (encoding == "two_bits") e = BinaryEncoding::two_bits;
        else throw std::invalid_argument("unknown binary encoding '" + encoding + "'");
        QueryEncoding q;
        if (query_encoding == "binary") q = QueryEncoding::binary;
        else if (query_encoding == "scalar4bits") q = QueryEncoding::scalar4bits;
        else if (query_encoding == "scalar8bits") q = QueryEncoding::scalar8bits;
        else throw std::invalid_argument("unknown query encoding '" + query_encoding + "'");
        return make_binary_set(dim, parse_metric(metric), e, q, center);
      }, "dim"_a, "metric"_a, "encoding"_a = "one_bit", "query_encoding"_a = "binary",
         "center"_a = 0.0f,
         "Sign bits; `center` is subtracted from rows and queries instead of the cosine\n"
         "normalisation (127 over uint8 originals, as Qdrant does).")
      .def_static("turbo", [](size_t dim, const std::string& metric, const std::string& bits) {
        TurboBits b;
        if (bits == "bits1") b = TurboBits::bits1;
        else if (bits == "bits1_5") b = TurboBits::bits1_5;
        else if (bits == "bits2") b = TurboBits::bits2;
        else if (bits == "bits4") b = TurboBits::bits4;
        else throw std::invalid_argument("unknown turbo bits '" + bits + "'");
        return make_turbo_set(dim, parse_metric(metric), b);
      }, "dim"_a, "metric"_a, "bits"_a = "bits4",
         "TurboQuant codes: rotation, per-coordinate grids, RaBitQ-corrected scores.")
      .def_static("turbo4", [](size_t dim, const std::string& metric) {
        return make_turbo4_set(dim, parse_metric(metric)); }, "dim"_a, "metric"_a,
        "Originals as Qdrant's turbo4 datatype: 4 bits a dimension after a rotation, untrained.")
      .def_static("product", [](size_t dim, const std::string& metric, size_t sub_dim, size_t sample,
                                size_t iterations, uint64_t seed, size_t threads) {
        ProductOptions o;
        o.sub_dim = sub_dim; o.sample = sample; o.iterations = iterations; o.seed = seed; o.threads = threads;
        return make_product_set(dim, parse_metric(metric), o);
      }, "dim"_a, "metric"_a, "sub_dim"_a, "sample"_a = 16384, "iterations"_a = 12, "seed"_a = 42,
         "threads"_a = 0)
      .def_prop_ro("dim", &VectorSet::dim)
      .def_prop_ro("size", &VectorSet::size)
      .def_prop_ro("code_bytes", &VectorSet::code_bytes)
      .def_prop_ro("trained", &VectorSet::trained)
      .def_prop_ro("scores_members", &VectorSet::scores_members)
      .def("score_pair", [](const VectorSet& s, uint32_t a, uint32_t b) {
        require(a < s.size() && b < s.size(), "member out of range");
        return s.score_pair(a, b);
      }, "a"_a, "b"_a, "Stored member a against stored member b: the graph build's score.")
      .def_prop_ro("memory_bytes", &VectorSet::memory_bytes)
      .def("__len__", &VectorSet::size)
      .def("train", [](VectorSet& s, In2<float> x) {
        check_rows(s, x);
        nb::gil_scoped_release release;
        s.train(x.data(), x.shape(0));
      }, "x"_a)
      .def("add", [](VectorSet& s, In2<float> x) {
        check_rows(s, x);
        nb::gil_scoped_release release;
        return s.add(x.data(), x.shape(0));
      }, "x"_a, "Encode and append rows; returns the offset of the first.")
      .def("set", [](VectorSet& s, In1<uint32_t> ids, In2<float> x) {
        check_rows(s, x);
        require(ids.shape(0) == x.shape(0), "one offset per row is needed");
        check_offsets(s, ids);
        nb::gil_scoped_release release;
        s.set(ids.data(), x.data(), x.shape(0));
      }, "ids"_a, "x"_a, "Re-encode rows in place.")
      .def("encode", [](const VectorSet& s, In2<float> x) {
        check_rows(s, x);
        require(s.trained(), "the quantizer must be trained first");
        auto out = empty<uint8_t>({x.shape(0), s.code_bytes()});
        nb::gil_scoped_release release;
        s.encode(x.data(), x.shape(0), out.data());
        return out;
      }, "x"_a, "Codes of rows taken as they are (no cosine normalisation).")
      .def("decode", [](const VectorSet& s, In2<uint8_t> codes) {
        require(codes.shape(1) == s.code_bytes(), "codes must be code_bytes wide");
        auto out = empty<float>({codes.shape(0), s.dim()});
        nb::gil_scoped_release release;
        s.decode(codes.data(), codes.shape(0), out.data());
        return out;
      }, "codes"_a)
      .def("codes", [](const VectorSet& s, In1<uint32_t> ids) {
        require(!s.multi(), "a multivector set's codes are per row: use codes_view");
        check_offsets(s, ids);
        auto out = empty<uint8_t>({ids.shape(0), s.code_bytes()});
        for (size_t i = 0; i < ids.shape(0); ++i)
          std::memcpy(out.data() + i * s.code_bytes(), s.codes(ids.data()[i]), s.code_bytes());
        return out;
      }, "ids"_a, "Stored codes of the given offsets.")
      .def("score", [](const VectorSet& s, In1<float> query, In1<uint32_t> ids) {
        require(query.shape(0) == s.dim(), "query has the wrong dimension");
        check_offsets(s, ids);
        auto out = empty<float>({ids.shape(0)});
        nb::gil_scoped_release release;
        s.scorer(query.data())->score(ids.data(), ids.shape(0), out.data());
        return out;
      }, "query"_a, "ids"_a, "Scores (higher is better) of one query against stored offsets.")
      .def("view", [](VectorSet& s, In2<uint8_t> codes) {
        require(codes.shape(1) == s.code_bytes(), "codes must be code_bytes wide");
        s.view(codes.data(), codes.shape(0));
      }, "codes"_a, nb::keep_alive<1, 2>(),
         "Search `codes` in place (e.g. a read-only np.memmap of a segment file) instead of a\n"
         "copy. The set keeps the buffer alive and is read-only from then on. Load the codec\n"
         "parameters first: load_state() of a state without \"codes\".")
      .def_prop_ro("codes_view", [](const VectorSet& s) {
        return nb::ndarray<nb::numpy, const uint8_t, nb::ndim<2>>(
            s.data(), {s.size(), s.code_bytes()}, nb::handle());
      }, nb::rv_policy::reference_internal,
         "All stored codes without a copy (read-only; valid until the next add).")
      .def_prop_ro("read_only", &VectorSet::read_only)
      .def("state", [](const VectorSet& s) { return to_python(s.state()); })
      .def("params", [](const VectorSet& s) { return to_python(s.params()); },
           "The codec parameters: state() without the codes.")
      .def("load_state", [](VectorSet& s, const std::map<std::string, AnyArray>& arrays) { s.load_state(from_python(arrays)); }, "arrays"_a);

  // ---- HNSW ----------------------------------------------------------------------------------
  nb::class_<Hnsw>(m, "Hnsw", "HNSW graph over the members of a VectorSet.")
      .def(nb::init<size_t, size_t, uint64_t>(), "m"_a = 16, "ef_construct"_a = 100, "seed"_a = 100)
      .def_prop_ro("size", &Hnsw::size)
      .def_prop_ro("m", &Hnsw::m)
      .def_prop_ro("ef_construct", &Hnsw::ef_construct)
      .def_prop_ro("memory_bytes", &Hnsw::memory_bytes)
      .def("__len__", &Hnsw::size)
      .def("add", [](Hnsw& g, const VectorSet& set, size_t threads) {
        nb::gil_scoped_release release;
        g.add(set, threads);
      }, "set"_a, "threads"_a = 0, "Insert the members of `set` the graph does not hold yet.")
      .def("state", [](const Hnsw& g) { return to_python(g.state()); })
      .def("load_state", [](Hnsw& g, const std::map<std::string, AnyArray>& arrays) { g.load_state(from_python(arrays)); }, "arrays"_a)
      .def("view_links0", [](Hnsw& g, In2<uint32_t> links) {
        require(links.shape(1) == 2 * g.m() + 1, "links0 must be 2 m + 1 words wide");
        g.view_links0(links.data(), links.shape(0));
      }, "links"_a, nb::keep_alive<1, 2>(),
         "Walk level 0's links in place (a read-only np.memmap of a segment file: state()'s\n"
         "\"links0\") instead of a copy. The graph keeps the buffer alive and takes no new\n"
         "nodes from then on. Load the rest first: load_state() of a state without \"links0\".");

  // ---- Reading rows of a file (rescoring from on-disk originals) -----------------------------
  nb::exception<ReadError>(m, "StorageError", PyExc_OSError);
  nb::class_<RowReader>(m, "RowReader",
      "Reads fixed-stride rows of an open file by row number, many at once: through io_uring,\n"
      "or a pool of threads calling pread where io_uring is unavailable or refused.")
      .def("__init__", [](RowReader* self, int fd, uint64_t offset, size_t row_bytes, size_t rows,
                          const std::string& method, const std::string& name) {
        ReadMethod m;
        if (method == "io_uring") m = ReadMethod::io_uring;
        else if (method == "pread") m = ReadMethod::pread;
        else throw std::invalid_argument("unknown read method '" + method + "' (io_uring or pread)");
        new (self) RowReader(fd, offset, row_bytes, rows, m, name);
      }, "fd"_a, "offset"_a, "row_bytes"_a, "rows"_a, "method"_a = "io_uring", "name"_a = "",
         "Keeps a duplicate of `fd`; rows are `row_bytes` wide from `offset` on; `name` (the\n"
         "file's path) appears in errors.")
      .def_prop_ro("method", [](const RowReader& r) {
        return std::string(r.method() == ReadMethod::io_uring ? "io_uring" : "pread"); },
        "The method in use: 'io_uring', or 'pread' when that was asked or io_uring was refused.")
      .def_prop_ro("fallback", &RowReader::fallback,
                   "Why io_uring was asked for and not used ('' otherwise).")
      .def_prop_ro("rows", &RowReader::rows)
      .def_prop_ro("row_bytes", &RowReader::row_bytes)
      .def("read", [](const RowReader& r, In1<uint32_t> ids) {
        for (size_t i = 0; i < ids.shape(0); ++i)
          require(ids.data()[i] < r.rows(), "row " + std::to_string(ids.data()[i]) +
                                                " is out of range for a file of " +
                                                std::to_string(r.rows()) + " rows");
        auto out = empty<uint8_t>({ids.shape(0), r.row_bytes()});
        nb::gil_scoped_release release;
        r.read(ids.data(), ids.shape(0), out.data());
        return out;
      }, "ids"_a, "Rows ids[i] as a (len(ids), row_bytes) uint8 array; any order, repeats allowed.");
  m.def("resident", [](In2<uint8_t> rows, In1<uint32_t> ids) {
    auto out = empty<bool>({ids.shape(0)});
    for (size_t i = 0; i < ids.shape(0); ++i) {
      require(ids.data()[i] < rows.shape(0), "row out of range");
      out.data()[i] = resident(rows.data() + size_t(ids.data()[i]) * rows.shape(1), rows.shape(1));
    }
    return out;
  }, "rows"_a, "ids"_a,
     "Whether each row ids[i] of `rows` (a file memory map) is in the page cache (mincore).");

  // ---- Search pipeline -----------------------------------------------------------------------
  m.def("search", [](const Hnsw* graph, const VectorSet& walk, const VectorSet* rescore,
                     In2<float> queries, size_t limit, size_t candidates, size_t ef,
                     std::optional<In1<uint64_t>> allowed, size_t threads, const RowReader* reader,
                     bool check_cache, std::optional<In1<int64_t>> query_offsets) {
    require(queries.shape(1) == walk.dim(), "queries have the wrong dimension");
    require(walk.multi() == bool(query_offsets),
            "a multivector set is searched with query offsets, and only it");
    if (query_offsets) check_query_groups(walk, *query_offsets, queries.shape(0));
    const int64_t* groups = query_offsets ? query_offsets->data() : nullptr;
    check_search(graph, walk, rescore, reader, limit,
                 allowed ? allowed->shape(0) : std::numeric_limits<size_t>::max());
    const size_t nq = groups ? query_offsets->shape(0) - 1 : queries.shape(0);
    check_finite(queries.data(), queries.shape(0), walk.dim());
    auto ids = empty<int64_t>({nq, limit});
    auto scores = empty<float>({nq, limit});
    SearchPlan plan;
    plan.limit = limit;
    plan.candidates = candidates;
    plan.ef = ef;
    plan.allowed = allowed ? allowed->data() : nullptr;
    plan.threads = threads;
    Rescore where;
    where.set = rescore;
    where.reader = reader;
    where.check_cache = check_cache;
    {
      nb::gil_scoped_release release;
      search_batch(graph, walk, where, queries.data(), nq, plan, ids.data(), scores.data(), groups);
    }
    return std::make_pair(ids, scores);
  }, "graph"_a.none(), "walk"_a, "rescore"_a.none(), "queries"_a, "limit"_a, "candidates"_a,
     "ef"_a, "allowed"_a.none(), "threads"_a = 1, "reader"_a.none() = nb::none(),
     "check_cache"_a = false, "query_offsets"_a.none() = nb::none(),
     "Top `limit` offsets and scores (higher is better) per query; -1 / NaN pad missing rows.\n"
     "With a `reader` (of the rescoring set's file) the candidates' originals are read through\n"
     "it, all of a batch at once; with `check_cache` a query whose candidates the page cache\n"
     "holds (a sample of them, by mincore) is rescored in place instead. Multivector sets take\n"
     "`query_offsets`: query q is rows queries[query_offsets[q]:query_offsets[q + 1]].");

  bind_sparse(m);
  bind_multi(m);
  bind_query(m);
}

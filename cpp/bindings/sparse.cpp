// Bindings of the sparse inverted index: CSR arrays in, top-k arrays out, the GIL released.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/optional.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>
#include <optional>

#include "bindings/common.h"
#include "index/sparse.h"

namespace vqdb::bindings {

using namespace nb::literals;

namespace {

template <class T>
Out<T> copied(const std::vector<T>& from) {
  auto out = empty<T>({from.size()});
  std::copy(from.begin(), from.end(), out.data());
  return out;
}

template <class T>
nb::ndarray<nb::numpy, const T, nb::ndim<1>> view(const T* data, size_t n) {
  return nb::ndarray<nb::numpy, const T, nb::ndim<1>>(data, {n}, nb::handle());
}

// A sparse vector from two Python lists of exact ints and floats (or ints), sorted by index; None
// when anything is other than that or breaks a rule (the caller's own parse then says what).
std::optional<std::pair<Out<uint32_t>, Out<float>>> plain_sparse_vector(nb::handle indices,
                                                                    nb::handle values) {
  PyObject* terms = indices.ptr();
  PyObject* weights = values.ptr();
  if (!PyList_CheckExact(terms) || !PyList_CheckExact(weights)) return std::nullopt;
  const Py_ssize_t n = PyList_GET_SIZE(terms);
  if (PyList_GET_SIZE(weights) != n) return std::nullopt;
  std::vector<std::pair<uint32_t, float>> pairs(static_cast<size_t>(n));
  bool sorted = true;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* t = PyList_GET_ITEM(terms, i);
    PyObject* w = PyList_GET_ITEM(weights, i);
    if (!PyLong_CheckExact(t)) return std::nullopt;  // bools too: not an index
    int overflow = 0;
    const long long term = PyLong_AsLongLongAndOverflow(t, &overflow);
    if (overflow || term < 0 || term > 0xFFFFFFFFLL) return std::nullopt;
    double weight;
    if (!plain_number(w, weight)) return std::nullopt;
    // finite, and within float32's range before rounding (NaN fails the compare)
    if (!(std::fabs(weight) <= double(std::numeric_limits<float>::max()))) return std::nullopt;
    pairs[size_t(i)] = {uint32_t(term), float(weight)};
    if (i > 0 && pairs[size_t(i)].first <= pairs[size_t(i) - 1].first) sorted = false;
  }
  if (!sorted) {
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 1; i < pairs.size(); ++i)
      if (pairs[i].first == pairs[i - 1].first) return std::nullopt;  // a repeated index
  }
  auto out_terms = empty<uint32_t>({size_t(n)});
  auto out_weights = empty<float>({size_t(n)});
  for (size_t i = 0; i < pairs.size(); ++i) {
    out_terms.data()[i] = pairs[i].first;
    out_weights.data()[i] = pairs[i].second;
  }
  return std::make_pair(out_terms, out_weights);
}

}  // namespace

// Checks CSR arrays: indptr starts anywhere, never decreases, and ends inside the arrays.
void check_csr(const In1<int64_t>& indptr, const In1<uint32_t>& indices,
               const In1<float>& values, const char* what) {
  const std::string name(what);
  require(indptr.shape(0) >= 1, name + ": indptr needs at least one entry");
  require(indices.shape(0) == values.shape(0), name + ": indices and values differ in length");
  const int64_t* p = indptr.data();
  const size_t n = indptr.shape(0) - 1;
  require(p[0] >= 0, name + ": indptr must not be negative");
  for (size_t i = 0; i < n; ++i) require(p[i + 1] >= p[i], name + ": indptr must not decrease");
  require(size_t(p[n] - p[0]) <= indices.shape(0), name + ": indptr points past the arrays");
}

void bind_sparse(nb::module_& m) {
  m.def("plain_sparse_vector", &plain_sparse_vector, "indices"_a, "values"_a,
        "(indices as uint32, values as float32) sorted by index, from two lists of plain ints\n"
        "and floats that make a valid sparse vector (u32 indices, each once; finite float32\n"
        "values); None for anything else, which the caller's own parse then explains.");

  nb::class_<SparseIndex>(m, "SparseIndex",
      "An inverted index over sparse vectors (rows appended at offsets 0, 1, ...), searched by\n"
      "an exact dot product. It keeps the rows in CSR form too: the arrays to persist.")
      .def(nb::init<>())
      .def_prop_ro("size", &SparseIndex::size, "Rows added.")
      .def_prop_ro("nnz", &SparseIndex::nnz, "Stored (index, value) pairs.")
      .def_prop_ro("terms", &SparseIndex::terms, "Distinct indices (posting lists).")
      .def_prop_ro("memory_bytes", &SparseIndex::memory_bytes)
      .def("__len__", &SparseIndex::size)
      .def("add", [](SparseIndex& s, In1<int64_t> indptr, In1<uint32_t> indices,
                     In1<float> values) {
        check_csr(indptr, indices, values, "add");
        nb::gil_scoped_release release;
        s.add(indptr.data(), indices.data(), values.data(), indptr.shape(0) - 1);
      }, "indptr"_a, "indices"_a, "values"_a,
         "Append len(indptr) - 1 rows in CSR form (unique indices within a row).")
      .def("load", [](SparseIndex& s, In1<int64_t> indptr, In1<uint32_t> indices,
                      In1<float> values) {
        check_csr(indptr, indices, values, "load");
        nb::gil_scoped_release release;
        s.load(indptr.data(), indices.data(), values.data(), indptr.shape(0) - 1);
      }, "indptr"_a, "indices"_a, "values"_a,
         "Replace everything with these CSR rows (as the *_view properties gave them).")
      .def("postings_state", [](const SparseIndex& s) {
        SparseIndex::FlatPostings flat;
        {
          nb::gil_scoped_release release;
          flat = s.postings_state();
        }
        nb::dict out;
        out["terms"] = copied(flat.terms);
        out["starts"] = copied(flat.starts);
        out["rows"] = copied(flat.rows);
        out["weights"] = copied(flat.weights);
        out["bounds"] = copied(flat.bounds);
        return out;
      }, "The postings laid out flat, for view(): terms ascending, each term's rows at\n"
         "rows[starts[t]:starts[t + 1]] with their weights, its largest and smallest weight\n"
         "at bounds[2t], bounds[2t + 1].")
      .def("view", [](SparseIndex& s, In1<int64_t> indptr, In1<uint32_t> indices,
                      In1<float> values, In1<uint32_t> terms, In1<int64_t> starts,
                      In1<uint32_t> rows, In1<float> weights, In1<float> bounds) {
        check_csr(indptr, indices, values, "view");
        const size_t n_terms = terms.shape(0);
        require(starts.shape(0) == n_terms + 1 && bounds.shape(0) == 2 * n_terms,
                "view: starts needs len(terms) + 1 entries, bounds 2 len(terms)");
        require(rows.shape(0) == weights.shape(0) &&
                    (n_terms == 0 || starts.data()[n_terms] == int64_t(rows.shape(0))),
                "view: rows and weights must hold starts[-1] postings");
        s.view(indptr.data(), indices.data(), values.data(), indptr.shape(0) - 1, terms.data(),
               starts.data(), rows.data(), weights.data(), bounds.data(), n_terms);
      }, "indptr"_a, "indices"_a, "values"_a, "terms"_a, "starts"_a, "rows"_a, "weights"_a,
         "bounds"_a, nb::keep_alive<1, 2>(), nb::keep_alive<1, 3>(), nb::keep_alive<1, 4>(),
         nb::keep_alive<1, 5>(), nb::keep_alive<1, 6>(), nb::keep_alive<1, 7>(),
         nb::keep_alive<1, 8>(), nb::keep_alive<1, 9>(),
         "Search these CSR rows and their postings (postings_state()'s) in place, e.g.\n"
         "read-only np.memmaps of a segment's files, instead of copies. The index keeps the\n"
         "buffers alive and takes no rows from then on.")
      .def_prop_ro("viewed", &SparseIndex::viewed)
      .def_prop_ro("indptr_view", [](const SparseIndex& s) {
        return view(s.indptr(), s.size() + 1); }, nb::rv_policy::reference_internal,
        "Row starts, size + 1 entries (read-only, no copy; valid until the next add).")
      .def_prop_ro("indices_view", [](const SparseIndex& s) {
        return view(s.indices(), s.nnz()); }, nb::rv_policy::reference_internal,
        "Every row's indices, one after another (read-only, no copy; valid until the next add).")
      .def_prop_ro("values_view", [](const SparseIndex& s) {
        return view(s.values(), s.nnz()); }, nb::rv_policy::reference_internal,
        "Every row's values, one after another (read-only, no copy; valid until the next add).")
      .def("document_frequency", [](const SparseIndex& s, In1<uint32_t> terms,
                                    std::optional<In1<uint64_t>> alive) {
        require(!alive || alive->shape(0) * 64 >= s.size(), "the alive bitset is too short");
        auto out = empty<uint64_t>({terms.shape(0)});
        const uint64_t* bits = alive ? alive->data() : nullptr;
        nb::gil_scoped_release release;
        s.document_frequency(terms.data(), terms.shape(0), bits, out.data());
        return out;
      }, "terms"_a, "alive"_a.none(),
         "How many rows set in `alive` (None: all) hold each term.")
      .def("search", [](const SparseIndex& s, In1<int64_t> indptr, In1<uint32_t> indices,
                        In1<float> values, size_t k, std::optional<In1<uint64_t>> allowed,
                        size_t threads, bool prune) {
        check_csr(indptr, indices, values, "queries");
        require(k > 0, "k must be positive");
        require(!allowed || allowed->shape(0) * 64 >= s.size(), "the allowed bitset is too short");
        const size_t nq = indptr.shape(0) - 1;
        check_finite(values.data(), 1, values.shape(0));
        auto ids = empty<int64_t>({nq, k});
        auto scores = empty<float>({nq, k});
        const uint64_t* bits = allowed ? allowed->data() : nullptr;
        {
          nb::gil_scoped_release release;
          s.search(indptr.data(), indices.data(), values.data(), nq, k, bits, threads,
                   ids.data(), scores.data(), prune);
        }
        return std::make_pair(ids, scores);
      }, "indptr"_a, "indices"_a, "values"_a, "k"_a, "allowed"_a.none(), "threads"_a = 1,
         "prune"_a = true,
         "Top `k` rows and dot products per query (queries in CSR form), best first; only rows\n"
         "sharing an index with the query and set in `allowed` (None: all) count. -1 / NaN pad.\n"
         "`prune`: False reads every posting list in full (the same answer, for tests).");
  m.def("idf_weighted", [](In1<float> values, In1<uint64_t> counts, uint64_t total) {
    require(values.shape(0) == counts.shape(0), "values and counts differ in length");
    auto out = empty<float>({values.shape(0)});
    idf_weighted(values.data(), counts.data(), values.shape(0), total, out.data());
    return out;
  }, "values"_a, "counts"_a, "total"_a,
     "Query weights times Qdrant's IDF, ln((N - n + 0.5) / (n + 0.5) + 1) with n = counts[i]\n"
     "and N = total, in double, rounded to float32 once.");
}

}  // namespace vqdb::bindings

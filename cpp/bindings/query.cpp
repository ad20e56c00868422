// Bindings of what shapes a query's results: the merge of segments' answers, fusion of ranked
// lists, scores and payloads as they are shown.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "bindings/common.h"
#include "codec/vector_set.h"
#include "index/hnsw.h"
#include "io/row_reader.h"
#include "query/floats.h"
#include "query/fusion.h"
#include "query/json_numbers.h"
#include "query/leaf.h"
#include "query/merge.h"

namespace vqdb::bindings {

using namespace nb::literals;

namespace {

// Deeper than JSON parsing lets a payload be (Python's json and the client's conversion stop near
// 1000 levels), shallow enough for any thread's stack.
constexpr int kMaxJsonDepth = 4096;

// Dicts and lists rebuilt, everything else shared: what JSON holds besides them (str, numbers,
// bool, None) is immutable.
nb::object json_copy(PyObject* value, int depth) {
  if (!PyDict_CheckExact(value) && !PyList_CheckExact(value)) return nb::borrow(value);
  if (depth > kMaxJsonDepth) throw std::invalid_argument("a payload nested too deep to copy");
  if (PyList_CheckExact(value)) {
    const Py_ssize_t n = PyList_GET_SIZE(value);
    nb::object out = nb::steal(PyList_New(n));
    if (!out.is_valid()) throw nb::python_error();
    for (Py_ssize_t i = 0; i < n; ++i) {  // the list owns each item from here (SET_ITEM steals)
      nb::object item = json_copy(PyList_GET_ITEM(value, i), depth + 1);
      PyList_SET_ITEM(out.ptr(), i, item.release().ptr());
    }
    return out;
  }
  nb::object out = nb::steal(PyDict_New());
  if (!out.is_valid()) throw nb::python_error();
  Py_ssize_t at = 0;
  PyObject *key, *item;
  while (PyDict_Next(value, &at, &key, &item))
    if (PyDict_SetItem(out.ptr(), key, json_copy(item, depth + 1).ptr()) != 0)
      throw nb::python_error();
  return out;
}

template <class T>
Out<T> copied(const std::vector<T>& v) {
  auto out = empty<T>({v.size()});
  std::copy(v.begin(), v.end(), out.data());
  return out;
}

// A Leaf and the arrays it points into (the sets and indexes it searches are kept alive by
// keep_alive on the methods that add them).
struct LeafObject {
  Leaf leaf;
  std::optional<In2<float>> rows;
  std::optional<In1<int64_t>> groups, indptr;
  std::optional<In1<uint32_t>> terms;
  std::optional<In1<float>> weights;
  std::vector<In1<uint64_t>> bitsets;
  std::vector<In1<uint32_t>> row_lists;
  std::vector<In1<int64_t>> id_maps;

  const int64_t* ids(const std::optional<In1<int64_t>>& map, size_t rows) {
    if (!map) return nullptr;
    require(map->shape(0) >= rows, "leaf: the id map is shorter than the store");
    id_maps.push_back(*map);
    return map->data();
  }

  const uint64_t* allowed(const std::optional<In1<uint64_t>>& bits, size_t rows) {
    if (!bits) return nullptr;
    require(bits->shape(0) * 64 >= rows, "leaf: the allowed bitset is too short");
    bitsets.push_back(*bits);
    return bits->data();
  }
};

// A segment position must leave a key (position << 40 | offset) a positive int64.
void check_position(int64_t position, const char* what) {
  require(position >= 0 && position < (int64_t(1) << (63 - kOffsetBits)),
          std::string(what) + ": a position must fit a key");
}

Shown shown_as(int shown) {
  require(shown >= 0 && shown <= 2, "leaf: shown is 0 (as is), 1 (Euclid) or 2 (Manhattan)");
  return Shown(shown);
}

}  // namespace

void bind_query(nb::module_& m) {
  m.def("merge", [](const std::vector<int64_t>& positions, const std::vector<In2<int64_t>>& offsets,
                    const std::vector<In2<float>>& scores, size_t queries, bool ascending,
                    std::optional<float> threshold, size_t wanted) {
    require(positions.size() == offsets.size() && offsets.size() == scores.size(),
            "merge: one position, offsets and scores array per answer");
    std::vector<SegmentAnswer> answers;
    for (size_t i = 0; i < offsets.size(); ++i) {
      check_position(positions[i], "merge");
      require(offsets[i].shape(0) == queries && scores[i].shape(0) == queries &&
                  offsets[i].shape(1) == scores[i].shape(1),
              "merge: each answer is (queries, k) offsets and scores");
      answers.push_back({positions[i], offsets[i].data(), scores[i].data(), offsets[i].shape(1)});
    }
    const Merged merged = merge(answers, queries, ascending, threshold, wanted);
    return std::make_tuple(copied(merged.scores), copied(merged.keys), copied(merged.ends));
  }, "positions"_a, "offsets"_a, "scores"_a, "queries"_a, "ascending"_a, "threshold"_a.none(),
     "wanted"_a,
     "Each query's points from several segments' (queries, k) answers (offset -1 pads):\n"
     "by score (ascending: distances), position, offset; NaN last; past `threshold` dropped;\n"
     "`wanted` at most. Returns scores and keys (position << 40 | offset) laid end to end, and\n"
     "each query's end.");

  m.def("fuse", [](const std::vector<In1<int64_t>>& keys, const std::vector<In1<float>>& scores) {
    require(keys.size() == scores.size(), "fuse: one scores array per keys array");
    std::vector<RankedList> lists;
    for (size_t i = 0; i < keys.size(); ++i) {
      require(keys[i].shape(0) == scores[i].shape(0), "fuse: keys and scores differ in length");
      const int64_t* k = keys[i].data();
      require(std::find(k, k + keys[i].shape(0), std::numeric_limits<int64_t>::min()) ==
                  k + keys[i].shape(0),
              "fuse: keys must not be the smallest int64");
      lists.push_back({k, scores[i].data(), keys[i].shape(0)});
    }
    std::vector<int64_t> fused;
    std::vector<float> totals;
    fuse(lists, fused, totals);  // microseconds: the GIL is kept (taking it back could wait)
    auto out_keys = empty<int64_t>({fused.size()});
    auto out_totals = empty<float>({totals.size()});
    std::memcpy(out_keys.data(), fused.data(), fused.size() * sizeof(int64_t));
    std::memcpy(out_totals.data(), totals.data(), totals.size() * sizeof(float));
    return std::make_pair(out_keys, out_totals);
  }, "keys"_a, "scores"_a,
     "Each key's scores summed over the lists in list order (float32), best first; ties and\n"
     "NaN totals (last) in the order the keys were first seen.");

  m.def("rrf_scores", [](size_t n, float k, float weight) { return copied(rrf_scores(n, k, weight)); },
        "n"_a, "k"_a, "weight"_a,
        "RRF's scores of ranks 1..n in a list of this weight: 1 / (rank / weight + k - 1) in\n"
        "float32; all 0 where the weight is not positive.");

  auto leaf_class = nb::class_<LeafObject>(m, "Leaf",
      "A leaf of a query's stage tree: queries of one vector, dense or sparse, and a search per\n"
      "segment that holds it (see cpp/query/leaf.h). `ranked` runs one; `fused_rrf` several\n"
      "and their fusion, in one call without the GIL.")
      .def_static("dense", [](In2<float> rows, std::optional<In1<int64_t>> groups, int shown,
                              bool ascending, std::optional<float> threshold, size_t wanted) {
        LeafObject out;
        if (groups) {
          const int64_t* g = groups->data();
          const size_t n = groups->shape(0);
          require(n >= 2 && g[0] == 0 && size_t(g[n - 1]) == rows.shape(0),
                  "leaf: multivector groups run from 0 to the last row");
          for (size_t i = 0; i + 1 < n; ++i)
            require(g[i + 1] > g[i], "every multivector needs at least one row");
          out.leaf.queries = n - 1;
          out.leaf.groups = g;
          out.groups = groups;
        } else {
          require(rows.shape(0) >= 1, "leaf: at least one query");
          out.leaf.queries = rows.shape(0);
        }
        check_finite(rows.data(), rows.shape(0), rows.shape(1));
        out.leaf.rows = rows.data();
        out.leaf.shown = shown_as(shown);
        out.leaf.ascending = ascending;
        out.leaf.threshold = threshold;
        out.leaf.wanted = wanted;
        out.rows = rows;
        return out;
      }, "rows"_a, "groups"_a.none(), "shown"_a, "ascending"_a, "threshold"_a.none(), "wanted"_a,
         "Dense queries: each a row, or with `groups` (queries + 1 offsets from 0) each a\n"
         "multivector's rows; `shown`: 0 engine scores as they are, 1 Euclid's distance, 2\n"
         "Manhattan's; `ascending`: lower scores first; points past `threshold` dropped;\n"
         "`wanted` at most per query.")
      .def_static("sparse", [](In1<int64_t> indptr, In1<uint32_t> terms, In1<float> weights,
                               std::optional<float> threshold, size_t wanted) {
        check_csr(indptr, terms, weights, "queries");
        require(indptr.shape(0) >= 2, "leaf: at least one query");
        check_finite(weights.data(), 1, weights.shape(0));
        LeafObject out;
        out.leaf.queries = indptr.shape(0) - 1;
        out.leaf.indptr = indptr.data();
        out.leaf.terms = terms.data();
        out.leaf.weights = weights.data();
        out.leaf.threshold = threshold;
        out.leaf.wanted = wanted;
        out.indptr = indptr;
        out.terms = terms;
        out.weights = weights;
        return out;
      }, "indptr"_a, "terms"_a, "weights"_a, "threshold"_a.none(), "wanted"_a,
         "Sparse queries in CSR form (unique terms in each): dot products, higher first.")
      .def("add_dense", [](LeafObject& self, int64_t position, const Hnsw* graph,
                           const VectorSet& walk, const VectorSet* rescore, const RowReader* reader,
                           bool check_cache, size_t limit, size_t candidates, size_t ef,
                           std::optional<In1<uint64_t>> allowed,
                           std::optional<In1<int64_t>> ids) {
        require(self.rows.has_value(), "leaf: sparse queries search sparse indexes");
        require(self.rows->shape(1) == walk.dim(), "queries have the wrong dimension");
        require(walk.multi() == bool(self.leaf.groups),
                "leaf: multivector queries search multivector sets, and only they");
        check_position(position, "leaf");
        check_search(graph, walk, rescore, reader, limit,
                     allowed ? allowed->shape(0) : std::numeric_limits<size_t>::max());
        DensePart part{position, graph, &walk, {}, {}, self.ids(ids, walk.size())};
        part.rescore.set = rescore;
        part.rescore.reader = reader;
        part.rescore.check_cache = check_cache;
        part.plan.limit = limit;
        part.plan.candidates = candidates;
        part.plan.ef = ef;
        part.plan.allowed = self.allowed(allowed, walk.size());
        self.leaf.dense.push_back(part);
      }, "position"_a, "graph"_a.none(), "walk"_a, "rescore"_a.none(), "reader"_a.none(),
         "check_cache"_a, "limit"_a, "candidates"_a, "ef"_a, "allowed"_a.none(), "ids"_a.none(),
         nb::keep_alive<1, 3>(), nb::keep_alive<1, 4>(), nb::keep_alive<1, 5>(),
         nb::keep_alive<1, 6>(),
         "The search of the segment at `position`, as `search` takes it; `ids`: each row's\n"
         "offset in the segment (None: the row itself).")
      .def("add_sparse", [](LeafObject& self, int64_t position, const SparseIndex& index,
                            size_t k, std::optional<In1<uint64_t>> allowed,
                            std::optional<In1<int64_t>> ids) {
        require(self.terms.has_value(), "leaf: dense queries search dense sets");
        require(k > 0, "k must be positive");
        check_position(position, "leaf");
        self.leaf.sparse.push_back(
            {position, &index, k, self.allowed(allowed, index.size()), self.ids(ids, index.size())});
      }, "position"_a, "index"_a, "k"_a, "allowed"_a.none(), "ids"_a.none(),
         nb::keep_alive<1, 3>(),
         "The search of the segment at `position`'s sparse index.");

  leaf_class.def("add_rows", [](LeafObject& self, int64_t position, const VectorSet& set,
                               In1<uint32_t> rows, size_t k, std::optional<In1<int64_t>> ids) {
        require(self.rows.has_value() && !self.leaf.groups && self.leaf.queries == 1,
                "leaf: rows are scored by one dense query");
        require(self.rows->shape(1) == set.dim() && !set.multi(),
                "leaf: the rows' set must be a dense set of the query's dimension");
        require(k > 0, "k must be positive");
        check_position(position, "leaf");
        for (size_t i = 0; i < rows.shape(0); ++i)
          require(rows.data()[i] < set.size(), "leaf: a row past the set");
        self.row_lists.push_back(rows);
        self.leaf.scored.push_back(
            {position, &set, rows.data(), rows.shape(0), k, self.ids(ids, set.size())});
      }, "position"_a, "set"_a, "rows"_a, "k"_a, "ids"_a.none(), nb::keep_alive<1, 3>(),
         "A rescoring stage's candidates in the segment at `position`: their `rows` of `set`\n"
         "scored exactly by the leaf's one dense query, the best `k` kept (ties: lower row).");

  m.def("ranked", [](const LeafObject& leaf, size_t threads) {
    Merged merged;
    {
      nb::gil_scoped_release release;
      merged = search(leaf.leaf, threads);
    }
    return std::make_tuple(copied(merged.scores), copied(merged.keys), copied(merged.ends));
  }, "leaf"_a, "threads"_a = 0,
     "Each of the leaf's queries' points over its segments, best first, as `merge` returns\n"
     "them: scores and keys (position << 40 | offset) laid end to end, and each query's end.\n"
     "`threads`: for a batch of queries (0: every core).");

  m.def("fused_rrf", [](const std::vector<const LeafObject*>& leaves, float k,
                        const std::vector<float>& weights, std::optional<float> threshold,
                        size_t wanted) {
    require(weights.size() == leaves.size(), "fused_rrf: one weight per leaf");
    for (const LeafObject* leaf : leaves)
      require(leaf->leaf.queries == 1, "fused_rrf: leaves of one query each");
    std::vector<int64_t> keys;
    std::vector<float> totals;
    {
      nb::gil_scoped_release release;
      std::vector<Merged> found;
      std::vector<std::vector<float>> scores;
      std::vector<RankedList> lists;
      found.reserve(leaves.size());
      for (size_t i = 0; i < leaves.size(); ++i) {
        found.push_back(search(leaves[i]->leaf, 1));
        scores.push_back(rrf_scores(found[i].keys.size(), k, weights[i]));
      }
      for (size_t i = 0; i < leaves.size(); ++i)
        lists.push_back({found[i].keys.data(), scores[i].data(), found[i].keys.size()});
      fuse(lists, keys, totals);
      size_t kept = 0;
      while (kept < totals.size() && kept < wanted && (!threshold || totals[kept] >= *threshold))
        ++kept;
      keys.resize(kept);
      totals.resize(kept);
    }
    return std::make_pair(copied(totals), copied(keys));
  }, "leaves"_a, "k"_a, "weights"_a, "threshold"_a.none(), "wanted"_a,
     "Reciprocal rank fusion (fusion.py's scores) of the leaves' ranked lists, each leaf one\n"
     "query run as `ranked` runs it: scores and keys, best first, those under `threshold`\n"
     "dropped, `wanted` at most.");

  m.def("plain_dense_vector", [](nb::handle raw, size_t dim) -> std::optional<Out<float>> {
    // JSON's list of numbers, read once: exact floats and ints only, `dim` of them, each
    // finite in float32 (what np.fromiter and the checks after it would accept)
    PyObject* list = raw.ptr();
    In1<float> array;
    if (!PyList_CheckExact(list) && nb::try_cast(raw, array, false)) {
      // a float32 array (a dense vector the server read natively): itself, if it fits
      if (array.shape(0) != dim) return std::nullopt;
      for (size_t i = 0; i < dim; ++i)
        if (!std::isfinite(array.data()[i])) return std::nullopt;
      size_t shape[1] = {dim};
      return Out<float>(const_cast<float*>(array.data()), 1, shape, raw);
    }
    if (!PyList_CheckExact(list) || size_t(PyList_GET_SIZE(list)) != dim) return std::nullopt;
    auto out = empty<float>({dim});
    float* x = out.data();
    for (size_t i = 0; i < dim; ++i) {
      double value;  // bools, numpy scalars, lists: the caller's parse explains
      if (!plain_number(PyList_GET_ITEM(list, Py_ssize_t(i)), value)) return std::nullopt;
      x[i] = float(value);
      if (!std::isfinite(x[i])) return std::nullopt;
    }
    return out;
  }, "raw"_a.none(), "dim"_a,
     "A dense query from a list of `dim` plain floats and ints, each finite in float32, as a\n"
     "float32 array (a contiguous float32 array of `dim` finite values: itself); None for\n"
     "anything else, which the caller's own parse then explains.");

  m.def("openings", [](nb::bytes text) {
    // '[' is 0x5B, '{' 0x7B: one compare after setting bit 0x20 (no other byte maps to 0x7B)
    const auto* c = static_cast<const unsigned char*>(text.data());
    size_t count = 0;
    for (size_t i = 0, n = text.size(); i < n; ++i) count += (c[i] | 0x20) == '{';
    return count;
  }, "text"_a,
     "How many '[' and '{' the bytes hold (strings included): a bound on JSON's depth.");

  m.def("number_arrays", [](nb::bytes text, size_t min_count) {
    // the GIL is kept: a query's scan is ~10 us, and a release while another loop waits for
    // the GIL is a handoff that costs more than that on these machines
    std::vector<NumberArray> found =
        number_arrays({static_cast<const char*>(text.data()), text.size()}, min_count);
    nb::list out;
    for (NumberArray& array : found) {
      nb::list path;
      bool readable = true;
      for (const JsonStep& step : array.path) {
        if (const auto* key = std::get_if<std::string>(&step)) {
          PyObject* name = PyUnicode_DecodeUTF8(key->data(), Py_ssize_t(key->size()), nullptr);
          if (name == nullptr) {  // not UTF-8: the validator says so
            PyErr_Clear();
            readable = false;
            break;
          }
          path.append(nb::steal(name));
        } else {
          path.append(std::get<size_t>(step));
        }
      }
      if (!readable) continue;
      auto values = empty<float>({array.values.size()});
      std::copy(array.values.begin(), array.values.end(), values.data());
      out.append(nb::make_tuple(nb::tuple(path), array.start, array.end, values));
    }
    return out;
  }, "text"_a, "min_count"_a,
     nb::sig("def number_arrays(text: bytes, min_count: int) -> list[tuple[tuple[str | int, "
             "...], int, int, numpy.typing.NDArray[numpy.float32]]]"),
     "The JSON text's arrays of at least `min_count` plain numbers, each finite in float32\n"
     "(a request's dense vectors), as (path of keys and indices, start, end, float32 array);\n"
     "none if the text is not well formed as far as the scan reads it.");

  m.def("shortest_doubles", [](In1<float> values) {
    auto out = empty<double>({values.shape(0)});
    shortest_doubles(values.data(), values.shape(0), out.data());
    return out;
  }, "values"_a,
     "Each float32 as the double its shortest round-tripping decimal names (how Qdrant\n"
     "writes an f32), NaN and infinities as they are.");

  m.def("json_copy", [](nb::handle value) { return json_copy(value.ptr(), 0); }, "value"_a.none(),
     nb::sig("def json_copy(value: typing.Any) -> typing.Any"),
     "A JSON value's own copy, for a caller to keep or change: dicts and lists rebuilt, all\n"
     "else (immutable) shared.");
}

}  // namespace vqdb::bindings

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
#include "query/floats.h"
#include "query/fusion.h"
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

}  // namespace

void bind_query(nb::module_& m) {
  m.def("merge", [](const std::vector<int64_t>& positions, const std::vector<In2<int64_t>>& offsets,
                    const std::vector<In2<float>>& scores, size_t queries, bool ascending,
                    std::optional<float> threshold, size_t wanted) {
    require(positions.size() == offsets.size() && offsets.size() == scores.size(),
            "merge: one position, offsets and scores array per answer");
    std::vector<SegmentAnswer> answers;
    for (size_t i = 0; i < offsets.size(); ++i) {
      require(positions[i] >= 0 && positions[i] < (int64_t(1) << (63 - kOffsetBits)),
              "merge: a position must fit a key");
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

  m.def("plain_dense_vector", [](nb::handle raw, size_t dim) -> std::optional<Out<float>> {
    // JSON's list of numbers, read once: exact floats and ints only, `dim` of them, each
    // finite in float32 (what np.fromiter and the checks after it would accept)
    PyObject* list = raw.ptr();
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
     "float32 array; None for anything else, which the caller's own parse then explains.");

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

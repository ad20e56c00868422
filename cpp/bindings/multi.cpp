// Bindings of the multivector set: groups of rows (a flat matrix plus offsets) in, MaxSim out.
#include <nanobind/stl/shared_ptr.h>

#include <string>

#include "bindings/common.h"
#include "codec/vector_set.h"

namespace vqdb::bindings {

using namespace nb::literals;

namespace {

// Offsets of n groups over `rows` rows: n + 1 of them, rising strictly (a group has a row at
// least), the last at most `rows` past the first.
void check_groups(const In1<int64_t>& offsets, size_t rows, const char* what) {
  const std::string name(what);
  require(offsets.shape(0) >= 1, name + ": offsets need at least one entry");
  const int64_t* p = offsets.data();
  const size_t n = offsets.shape(0) - 1;
  require(p[0] >= 0, name + ": offsets must not be negative");
  for (size_t i = 0; i < n; ++i)
    require(p[i + 1] > p[i], name + ": every multivector needs at least one row");
  require(size_t(p[n] - p[0]) <= rows, name + ": offsets point past the rows");
}

}  // namespace

void check_query_groups(const VectorSet& walk, const In1<int64_t>& offsets, size_t rows) {
  require(walk.multi(), "query offsets are for multivector sets");
  check_groups(offsets, rows, "queries");
  require(offsets.data()[0] == 0 && size_t(offsets.data()[offsets.shape(0) - 1]) == rows,
          "query offsets must cover the query rows from the first to the last");
}

void bind_multi(nb::module_& m) {
  nb::class_<MultiVectorSet, VectorSet>(m, "MultiVectorSet",
      "Multivectors: member i is a group of rows of `rows` (any codec), scored by MaxSim (the\n"
      "sum over query rows of the best score against the member's rows). A graph or the plain\n"
      "scan sees one member per group.")
      .def(nb::init<std::shared_ptr<VectorSet>>(), "rows"_a,
           "Wraps `rows`, an empty set of plain rows; it is the multivector set's from now on.")
      .def("add_groups", [](MultiVectorSet& s, In2<float> x, In1<int64_t> offsets) {
        require(x.shape(1) == s.dim(), "expected rows of dimension " + std::to_string(s.dim()) +
                                           ", got " + std::to_string(x.shape(1)));
        check_groups(offsets, x.shape(0), "multivectors");
        const size_t n = offsets.shape(0) - 1;
        require(offsets.data()[0] == 0, "offsets must start at 0");
        nb::gil_scoped_release release;
        return s.add_groups(x.data(), offsets.data(), n);
      }, "x"_a, "offsets"_a,
         "Append groups: group i is rows x[offsets[i]:offsets[i + 1]]; returns the first's offset.")
      .def("score_groups", [](const MultiVectorSet& s, In2<float> query, In1<uint32_t> ids) {
        require(query.shape(1) == s.dim(), "query has the wrong dimension");
        require(query.shape(0) >= 1, "a multivector query needs at least one row");
        for (size_t i = 0; i < ids.shape(0); ++i)
          require(ids.data()[i] < s.size(), "offset out of range");
        auto out = empty<float>({ids.shape(0)});
        nb::gil_scoped_release release;
        s.multi_scorer(query.data(), query.shape(0))->score(ids.data(), ids.shape(0), out.data());
        return out;
      }, "query"_a, "ids"_a, "MaxSim scores (higher is better) of one query matrix.")
      .def("score_pair", [](const MultiVectorSet& s, uint32_t a, uint32_t b) {
        require(a < s.size() && b < s.size(), "offset out of range");
        return s.score_pair(a, b);
      }, "a"_a, "b"_a, "MaxSim of member a (as the query) against member b.")
      .def_prop_ro("rows", [](const MultiVectorSet& s) { return s.rows().size(); },
                   "Rows stored, over all groups.")
      .def_prop_ro("offsets_view", [](const MultiVectorSet& s) {
        return nb::ndarray<nb::numpy, const uint64_t, nb::ndim<1>>(
            s.offsets(), {s.size() + 1}, nb::handle());
      }, nb::rv_policy::reference_internal,
         "Group offsets into the rows without a copy (valid until the next add).")
      .def_prop_ro("codes_view", [](const MultiVectorSet& s) {
        return nb::ndarray<nb::numpy, const uint8_t, nb::ndim<2>>(
            s.rows().data(), {s.rows().size(), s.code_bytes()}, nb::handle());
      }, nb::rv_policy::reference_internal,
         "The codes of every row, row-major, without a copy (valid until the next add).");
}

}  // namespace vqdb::bindings

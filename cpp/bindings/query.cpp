// Bindings of what shapes a query's results: fusion of ranked lists, scores as Qdrant shows
// them.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "bindings/common.h"
#include "query/floats.h"
#include "query/fusion.h"

namespace vqdb::bindings {

using namespace nb::literals;

void bind_query(nb::module_& m) {
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

  m.def("shortest_doubles", [](In1<float> values) {
    auto out = empty<double>({values.shape(0)});
    shortest_doubles(values.data(), values.shape(0), out.data());
    return out;
  }, "values"_a,
     "Each float32 as the double its shortest round-tripping decimal names (how Qdrant\n"
     "writes an f32), NaN and infinities as they are.");
}

}  // namespace vqdb::bindings

// What every binding file shares: numpy argument and result types, argument checks.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <initializer_list>
#include <stdexcept>
#include <string>

namespace vqdb {
class Hnsw;
class RowReader;
class VectorSet;
}

namespace vqdb::bindings {

namespace nb = nanobind;

template <class T>
using In2 = nb::ndarray<const T, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
template <class T>
using In1 = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
template <class T>
using Out = nb::ndarray<nb::numpy, T>;

// A new numpy array that owns its zero-filled buffer.
template <class T>
Out<T> empty(std::initializer_list<size_t> shape) {
  size_t n = 1;
  for (size_t s : shape) n *= s;
  T* data = new T[n > 0 ? n : 1]();
  nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  return Out<T>(data, shape.size(), shape.begin(), owner);
}

inline void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// A number as JSON gives it, an exact float or int (not a bool, not a numpy scalar), as a
// double; false for anything else, and for an int too large for a double.
inline bool plain_number(PyObject* item, double& value) {
  if (PyFloat_CheckExact(item)) {
    value = PyFloat_AS_DOUBLE(item);
    return true;
  }
  if (!PyLong_CheckExact(item)) return false;
  value = PyLong_AsDouble(item);
  if (value == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    return false;
  }
  return true;
}

// One binding file per area; module.cpp calls each.
void bind_sparse(nb::module_& m);
void bind_multi(nb::module_& m);
void bind_query(nb::module_& m);
// Checks a search's sets and plan before it runs (module.cpp); allowed_words: the allowed
// bitset's length in 64-bit words, SIZE_MAX for none.
void check_search(const Hnsw* graph, const VectorSet& walk, const VectorSet* rescore,
                  const RowReader* reader, size_t limit, size_t allowed_words);
// Checks CSR arrays (sparse.cpp): indptr starts anywhere, never decreases, and ends inside
// the arrays.
void check_csr(const In1<int64_t>& indptr, const In1<uint32_t>& indices,
               const In1<float>& values, const char* what);
// Throws where a query row holds NaN or infinity.
void check_finite(const float* rows, size_t n, size_t dim);
// Checks the query groups of a multivector search (bindings/multi.cpp).
void check_query_groups(const VectorSet& walk, const In1<int64_t>& offsets, size_t rows);

}  // namespace vqdb::bindings

#pragma once

#include <array>
#include <cstddef>

namespace hbone::metrics {

// What counters are indexed by: the role that counted, and the values of an outcome enum.
// An outcome that becomes a metric label is an enum ending in `count`, declared by the layer
// that produces it with a `label()` beside it (found by argument-dependent lookup): the
// counters are sized and indexed by the type itself, nothing is kept in step by comments.

enum Role { kClient = 0, kGateway = 1, kRoles = 2 };
inline const char* role_name(int role) { return role == kClient ? "client" : "gateway"; }

template <typename E>
inline constexpr size_t kCount = static_cast<size_t>(E::count);

// One T per value of the label enum E.
template <typename E, typename T>
class ByEnum {
 public:
  T& operator[](E e) { return items_[static_cast<size_t>(e)]; }
  const T& operator[](E e) const { return items_[static_cast<size_t>(e)]; }
  // Calls f(E) for every value but `count`.
  template <typename F>
  static void for_each(F&& f) {
    for (size_t i = 0; i < kCount<E>; ++i) f(static_cast<E>(i));
  }

 private:
  std::array<T, kCount<E>> items_;
};

}  // namespace hbone::metrics

#pragma once

#include "config/config.h"

namespace hbone::test {

// The unit tests' key to a Config's live values (config::LiveRead): they check what the
// loader read, and build configs value by value.
struct LiveReader {
  template <typename T>
  static T& of(config::Live<T>& value) {
    return value.get(config::LiveRead{});
  }
  template <typename T>
  static const T& of(const config::Live<T>& value) {
    return value.get(config::LiveRead{});
  }
};

template <typename T>
T& live(config::Live<T>& value) {
  return LiveReader::of(value);
}
template <typename T>
const T& live(const config::Live<T>& value) {
  return LiveReader::of(value);
}

}  // namespace hbone::test

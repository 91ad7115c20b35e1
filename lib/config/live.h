#pragma once

#include <utility>

namespace YAML {
class Node;
}
namespace hbone::tunnel {
struct PeerPolicy;
}
namespace hbone::test {
struct LiveReader;
}

namespace hbone::config {

class Diagnostics;
struct Config;

// Who may read a live key's value out of a Config (keys.h: Reload::live): the config's own
// visitors (loader, dump, reload comparison, key table), its checks, the builder of the live
// snapshot (tunnel::PeerPolicy) and the unit tests. Nobody else can make one, so nothing else
// compiles a read: a worker, a listener or the daemon reads live values from the snapshot a
// reload swaps (and later the control plane's), never from the Config it started with, and
// no live key can silently keep its startup value.
class LiveRead {
  LiveRead() = default;
  template <typename V, typename C>
  friend void visit_keys(V& v, C& c);
  friend void check_config(const YAML::Node& root, const Config& config, Diagnostics& diag);
  friend struct tunnel::PeerPolicy;
  friend struct test::LiveReader;
};

// The value of a live key in Config: set freely, read only with a LiveRead.
template <typename T>
class Live {
 public:
  Live() = default;
  Live(T value) : value_(std::move(value)) {}  // NOLINT: a Config is written like plain values
  Live& operator=(T value) {
    value_ = std::move(value);
    return *this;
  }
  T& get(LiveRead) { return value_; }
  const T& get(LiveRead) const { return value_; }

 private:
  T value_{};
};

}  // namespace hbone::config

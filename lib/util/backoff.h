#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace hbone::util {

// How long to wait before the next attempt after a failure, as gRPC's
// doc/connection-backoff.md has it: the first delay `initial`, each next one `multiplier`
// times longer up to `max`, every delay spread by +-`jitter` so that clients that failed
// together (an istiod restart) do not come back together.
class Backoff {
 public:
  struct Policy {
    std::chrono::milliseconds initial{1000};
    double multiplier = 1.6;
    double jitter = 0.2;
    std::chrono::milliseconds max{30'000};
  };
  explicit Backoff(Policy policy, uint64_t seed = std::random_device{}());

  // The delay before the next attempt; each call is one more failure.
  std::chrono::milliseconds next();
  // An attempt succeeded: the next failure starts from `initial` again.
  void reset() { current_ = 0; }

 private:
  Policy policy_;
  double current_ = 0;  // the last delay before jitter, in ms; 0: none yet
  std::mt19937_64 random_;
};

}  // namespace hbone::util

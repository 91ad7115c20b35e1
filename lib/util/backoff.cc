#include "util/backoff.h"

#include <algorithm>

namespace hbone::util {

Backoff::Backoff(Policy policy, uint64_t seed) : policy_(policy), random_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const double max = static_cast<double>(policy_.max.count());
  current_ = current_ == 0 ? static_cast<double>(policy_.initial.count()) : std::min(current_ * policy_.multiplier, max);
  std::uniform_real_distribution<double> spread(1 - policy_.jitter, 1 + policy_.jitter);
  return std::chrono::milliseconds(static_cast<int64_t>(current_ * spread(random_)));
}

}  // namespace hbone::util

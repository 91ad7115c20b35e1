#include "net/connection_balancer.h"

namespace hbone::net {

unsigned ConnectionBalancer::place(unsigned worker) {
  // Ties stay with the accepting worker: no hand-off when it would not help.
  unsigned best = worker;
  int64_t least = count(worker);
  for (unsigned i = 0; i < counts_.size(); ++i) {
    if (int64_t c = count(i); c < least) {
      least = c;
      best = i;
    }
  }
  counts_[best].fetch_add(1, std::memory_order_relaxed);
  return best;
}

}  // namespace hbone::net

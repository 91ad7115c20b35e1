#include "net/descriptor_reserve.h"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

namespace hbone::net {

DescriptorReserve DescriptorReserve::current() {
  constexpr int kNone = std::numeric_limits<int>::max();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
      limit.rlim_cur > static_cast<rlim_t>(kNone)) {
    return {kNone, kNone};
  }
  auto max = static_cast<int>(limit.rlim_cur);
  int reserve = std::clamp(max / 8, 8, 256);
  return {max - reserve, max - std::max(reserve / 4, 4)};
}

}  // namespace hbone::net

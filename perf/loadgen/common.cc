#include "common.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>

namespace loadgen {

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

uint8_t pattern(uint64_t index, size_t offset) {
  uint64_t x = (index + 1) * 0x9E3779B97F4A7C15ull + offset * 0xBF58476D1CE4E5B9ull;
  return static_cast<uint8_t>((x ^ (x >> 29)) >> 24);
}

void alloc_cb(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
  buf->base = static_cast<char*>(std::malloc(suggested));
  buf->len = suggested;
}

bool parse_address(const std::string& text, sockaddr_in* addr) {
  size_t colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "127.0.0.1" : text.substr(0, colon);
  std::string port = colon == std::string::npos ? text : text.substr(colon + 1);
  char* end = nullptr;
  long number = std::strtol(port.c_str(), &end, 10);
  return !port.empty() && *end == '\0' && number > 0 && number < 65536 &&
         uv_ip4_addr(host.c_str(), static_cast<int>(number), addr) == 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace loadgen

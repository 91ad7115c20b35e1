#pragma once
// What hbone-loadgen's modes share (see main.cc).

#include <netinet/in.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace loadgen {

using Clock = std::chrono::steady_clock;

// Lifts the soft descriptor limit to the hard one: one descriptor per connection.
void raise_fd_limit();
// Byte `offset` of connection `index`'s payload: every connection sends its own bytes.
uint8_t pattern(uint64_t index, size_t offset);
// libuv read buffers from malloc; the read callback frees them.
void alloc_cb(uv_handle_t*, size_t suggested, uv_buf_t* buf);
// "PORT" (on 127.0.0.1) or "IPv4:PORT"; false when it is neither.
bool parse_address(const std::string& text, sockaddr_in* addr);
// The p-quantile (0..1) of `v`, 0 when empty.
double percentile(std::vector<double> v, double p);

// The modes.
int run_echo(const sockaddr_in& addr);
int run_clients(const sockaddr_in& target, uint64_t total, uint64_t concurrency, uint64_t bytes, int rounds);
int run_rate(const sockaddr_in& target, unsigned connections, double rate, double seconds, size_t bytes);

}  // namespace loadgen

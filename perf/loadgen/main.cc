// hbone-loadgen: a native TCP load generator and echo target for perf/ and the soak test.
// A Python generator topped out near 2,600 connections/s; this one is not the bottleneck.
//
// ADDRESS is PORT (on 127.0.0.1) or IPv4:PORT.
//   hbone-loadgen echo ADDRESS
//       Echo target: returns every byte, ends its side after the peer's FIN.
//   hbone-loadgen run ADDRESS TOTAL CONCURRENCY BYTES [ROUNDS]
//       Opens TOTAL connections to ADDRESS, at most CONCURRENCY at once; each sends
//       BYTES of a pattern derived from its index, checks the echo byte for byte, sends FIN
//       and waits for the peer's. With ROUNDS, all TOTAL connections of a round are held
//       open until every one has its echo (TOTAL concurrent tunnels) or has failed, then
//       all close, and the next round starts. Prints one JSON line per round: completed, failed,
//       corrupted, seconds, setups per second, p50/p99 setup latency (connect to first
//       echoed byte). Exits 1 if any connection failed or was corrupted.
//   hbone-loadgen rate ADDRESS CONNECTIONS RATE SECONDS BYTES
//       Request/response at a fixed rate, as Istio benchmarks a mesh (fortio, wrk2): keeps
//       CONNECTIONS connections open and sends RATE requests/s in all, BYTES each, on a
//       fixed schedule (each connection its share, starts staggered), one outstanding per
//       connection; a request is answered when its BYTES come back, checked. Latency counts
//       from when a request was due: a late answer delays the next request, and that delay
//       is measured (coordinated omission corrected). Prints one JSON line: requests,
//       errors, corrupted, achieved rate, p50/p90/p99/p99.9 latency in µs.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "common.h"

using namespace loadgen;

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a peer gone mid-write is an error result, not death
  std::vector<std::string> args(argv + 1, argv + argc);
  sockaddr_in address{};
  bool addressed = args.size() >= 2 && parse_address(args[1], &address);
  if (addressed && args.size() == 2 && args[0] == "echo") {
    raise_fd_limit();
    return run_echo(address);
  }
  if (addressed && args.size() == 6 && args[0] == "rate") {
    return run_rate(address, static_cast<unsigned>(std::stoul(args[2])), std::stod(args[3]), std::stod(args[4]),
                    std::stoull(args[5]));
  }
  if (addressed && (args.size() == 5 || args.size() == 6) && args[0] == "run") {
    return run_clients(address, std::stoull(args[2]), std::stoull(args[3]), std::stoull(args[4]),
                       args.size() == 6 ? std::stoi(args[5]) : 0);
  }
  std::fprintf(stderr,
               "usage: hbone-loadgen echo [IPv4:]PORT\n"
               "       hbone-loadgen run [IPv4:]PORT TOTAL CONCURRENCY BYTES [ROUNDS]\n"
               "       hbone-loadgen rate [IPv4:]PORT CONNECTIONS RATE SECONDS BYTES\n");
  return 2;
}

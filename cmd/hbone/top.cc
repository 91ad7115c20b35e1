#include "top.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "address/host_port.h"
#include "net/fd.h"
#include "net/socket_ops.h"

namespace hbone::cmd {
namespace {

using nlohmann::json;

// GET over HTTP/1.0 (the admin endpoint closes after each answer); nullopt with `error`
// on failure. IPv4 or IPv6 literal addresses.
std::optional<std::string> http_get(const address::HostPort& admin, const std::string& path,
                                    std::string& error) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!net::to_sockaddr(admin, addr, len)) {
    error = admin.host + " is not an IP address";
    return std::nullopt;
  }
  net::Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval timeout{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + admin.to_string() + "\r\n\r\n";
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string response;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
  size_t body = response.find("\r\n\r\n");
  // "HTTP/1.x 200 ..."
  if (body == std::string::npos || response.compare(0, 5, "HTTP/") != 0 || response.size() < 12) {
    error = n < 0 ? std::strerror(errno) : "no HTTP response";
    return std::nullopt;
  }
  if (response.compare(9, 3, "200") != 0) {
    error = "HTTP " + response.substr(9, 3);
    return std::nullopt;
  }
  return response.substr(body + 4);
}

std::string bits(double bytes_per_second) {
  double b = bytes_per_second * 8;
  if (b >= 1e9) return fmt::format("{:.2f}G", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f}M", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.0f}k", b / 1e3);
  return fmt::format("{:.0f}", b);
}

std::string bytes(double n) {
  if (n >= 1 << 30) return fmt::format("{:.1f}GiB", n / (1 << 30));
  if (n >= 1 << 20) return fmt::format("{:.1f}MiB", n / (1 << 20));
  if (n >= 1 << 10) return fmt::format("{:.0f}KiB", n / (1 << 10));
  return fmt::format("{:.0f}B", n);
}

std::string window(const json& j, const char* key) {
  return j.contains(key) ? bytes(j[key].get<double>()) : "-";
}

std::string render(const json& state, const std::string& admin) {
  std::vector<json> tunnels;
  double sent = 0, received = 0;
  std::string out;
  size_t connections = state["connections"].size();
  for (const json& conn : state["connections"]) {
    for (const json& t : conn["tunnels"]) {
      sent += t["rate_sent"].get<double>();
      received += t["rate_received"].get<double>();
      tunnels.push_back(t);
    }
  }
  std::sort(tunnels.begin(), tunnels.end(), [](const json& a, const json& b) {
    return a["rate_sent"].get<double>() + a["rate_received"].get<double>() >
           b["rate_sent"].get<double>() + b["rate_received"].get<double>();
  });
  out += fmt::format("hbone top  {}  {} tunnels on {} HTTP/2 connections\n", admin, tunnels.size(),
                     connections);
  out += fmt::format("total  sent {}bit/s  received {}bit/s   (sent: local -> peer)\n\n", bits(sent),
                     bits(received));
  out += fmt::format("{:<8} {:<22} {:<22} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}\n", "ROLE",
                     "SOURCE", "TARGET", "AGE", "SENT/s", "RECV/s", "SENT", "RECV", "SENDWIN",
                     "RECVWIN", "STALLED");
  for (const json& t : tunnels) {
    std::string stalled = fmt::format("{:.1f}s", t["stalled_seconds"].get<double>());
    if (!t["stalled_on"].get<std::string>().empty()) stalled += "*";
    out += fmt::format("{:<8} {:<22} {:<22} {:>6.0f}s {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}\n",
                       t["role"].get<std::string>(), t["source"].get<std::string>(),
                       t["target"].get<std::string>(), t["age_seconds"].get<double>(),
                       bits(t["rate_sent"].get<double>()), bits(t["rate_received"].get<double>()),
                       bytes(t["bytes_sent"].get<double>()), bytes(t["bytes_received"].get<double>()),
                       window(t, "send_window"), window(t, "receive_window"), stalled);
    // The workload istiod placed behind it (the route names the service and its endpoint).
    if (t.contains("route") && t["route"].get<std::string>().starts_with("mesh:")) {
      out += fmt::format("         {}\n", t["route"].get<std::string>());
    }
  }
  out += "\nCONNECTIONS\n";
  for (const json& conn : state["connections"]) {
    out += fmt::format("  {:<8} {:<22} {:<45} streams {:>4}  send window {:>8}  receive window {:>8}\n",
                       conn["role"].get<std::string>(), conn["peer"].get<std::string>(),
                       conn["peer_identity"].get<std::string>(), conn["streams"].get<size_t>(),
                       window(conn, "send_window"), window(conn, "receive_window"));
    // Client connections belong to the pool of one (gateway, expected identity).
    if (conn.contains("pool")) out += fmt::format("           pool {}\n", conn["pool"].get<std::string>());
  }
  return out;
}

}  // namespace

int run_top(const std::string& admin_text, std::chrono::milliseconds interval, bool once) {
  std::string why;
  auto admin = address::parse_host_port(admin_text, &why);
  if (!admin) {
    std::cerr << "error: --admin \"" << admin_text << "\": " << why << "\n";
    return 2;
  }
  while (true) {
    std::string error;
    auto body = http_get(*admin, "/debug/tunnels", error);
    std::string frame;
    if (!body) {
      frame = "hbone top: " + admin->to_string() + ": " + error + "\n";
      if (once) {
        std::cerr << frame;
        return 1;
      }
    } else {
      frame = render(json::parse(*body), admin->to_string());
    }
    if (once) {
      std::cout << frame;
      return 0;
    }
    std::cout << "\033[H\033[2J" << frame << std::flush;  // home, clear screen
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace hbone::cmd

#include "admin/admin_server.h"

#include <CivetServer.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <stdexcept>
#include <thread>

#include "admin/heap.h"
#include "net/fd.h"
#include "net/socket_ops.h"

namespace hbone::admin {
namespace {

struct Request {
  CivetServer* server;
  mg_connection* conn;
  std::string param(const char* name) const {
    std::string value;
    server->getParam(conn, name, value);
    return value;
  }
};

using Handler = std::function<HttpResult(const Request&)>;

void send(mg_connection* conn, const HttpResult& r) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            r.status, mg_get_response_code_text(conn, r.status), r.content_type.c_str(),
            r.body.size());
  mg_write(conn, r.body.data(), r.body.size());
}

// One URI; the methods it does not serve get 405.
class Route : public CivetHandler {
 public:
  Route(Handler get, Handler post) : get_(std::move(get)), post_(std::move(post)) {}
  bool handleGet(CivetServer* server, mg_connection* conn) override { return serve(get_, server, conn); }
  bool handlePost(CivetServer* server, mg_connection* conn) override { return serve(post_, server, conn); }

 private:
  static bool serve(const Handler& h, CivetServer* server, mg_connection* conn) {
    if (!h) {
      send(conn, {405, "text/plain", "method not allowed\n"});
      return true;
    }
    try {
      send(conn, h(Request{server, conn}));
    } catch (const std::exception& e) {
      send(conn, {500, "text/plain", std::string(e.what()) + "\n"});
    }
    return true;
  }
  Handler get_;
  Handler post_;
};

int int_param(const Request& req, const char* name, int fallback, int min, int max) {
  std::string text = req.param(name);
  if (text.empty()) return fallback;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw std::invalid_argument(std::string(name) + " must be an integer in " +
                                std::to_string(min) + ".." + std::to_string(max));
  }
  return value;
}

HttpResult bad_request_on_invalid(const std::function<HttpResult()>& f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    return {400, "text/plain", std::string(e.what()) + "\n"};
  }
}

}  // namespace

AdminServer::AdminServer(const address::HostPort& listen, AdminHooks hooks)
    : hooks_(std::move(hooks)), listen_(listen) {
  std::vector<std::string> options = {"listening_ports", listen.to_string(), "num_threads", "4",
                                      "enable_keep_alive", "no"};
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("admin.listen: cannot listen on " + listen.to_string() + ": " + e.what());
  }
  if (listen_.port == 0) {  // port 0: the one the kernel chose
    std::vector<int> ports = server_->getListeningPorts();
    if (!ports.empty()) listen_.port = static_cast<uint16_t>(ports.front());
  }
  auto add = [this](const char* uri, Handler get, Handler post) {
    routes_.push_back(std::make_unique<Route>(std::move(get), std::move(post)));
    server_->addHandler(uri, routes_.back().get());
  };
  add("/metrics", [this](const Request&) {
    return HttpResult{200, "text/plain; version=0.0.4; charset=utf-8", hooks_.metrics_text()};
  }, nullptr);
  add("/debug/pprof/profile", [](const Request& req) {
    return bad_request_on_invalid([&] {
      return cpu_profile(int_param(req, "seconds", 30, 1, 300), int_param(req, "frequency", 100, 1, 4000));
    });
  }, nullptr);
  add("/debug/pprof/heap", [](const Request&) { return heap_profile(); }, nullptr);
  add("/memory/release", nullptr, [](const Request&) { return release_memory(); });
  add("/debug/tunnels", [this](const Request&) {
    return HttpResult{200, "application/json", hooks_.tunnels_json()};
  }, nullptr);
  add("/config_dump", [this](const Request&) {
    return HttpResult{200, "text/yaml", hooks_.config_dump()};
  }, nullptr);
  add("/certs", [this](const Request&) {
    return HttpResult{200, "application/json", hooks_.certs_json()};
  }, nullptr);
  add("/healthz/ready", [this](const Request&) {
    return hooks_.ready() ? HttpResult{200, "text/plain", "ready\n"}
                          : HttpResult{503, "text/plain", "not ready\n"};
  }, nullptr);
  add("/logging", nullptr, [](const Request& req) {
    std::string level = req.param("level");
    auto parsed = spdlog::level::from_str(level);
    // from_str maps anything unknown to "off": only accept the real names.
    if (level.empty() || (parsed == spdlog::level::off && level != "off")) {
      return HttpResult{400, "text/plain", "level must be trace, debug, info, warn, error or off\n"};
    }
    spdlog::set_level(parsed);
    spdlog::info("admin: log level set to {}", level);
    return HttpResult{200, "text/plain", "log level: " + level + "\n"};
  });
  // GET too: Kubernetes' preStop httpGet hook can only GET.
  auto quit = [this](const Request&) {
    spdlog::info("admin: /quitquitquit: draining");
    hooks_.drain();
    return HttpResult{200, "text/plain", "draining\n"};
  };
  add("/quitquitquit", quit, quit);
}

AdminServer::~AdminServer() {
  if (!server_) return;
  // civetweb's acceptor notices a stop only when its poll (2 s timeout) returns: poke it
  // with connections until close() has joined its threads, so shutdown is prompt.
  std::atomic<bool> closed{false};
  std::thread waker([this, &closed] {
    sockaddr_storage addr;
    socklen_t len = 0;
    if (!net::to_sockaddr(listen_, addr, len)) return;
    while (!closed.load()) {
      net::Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  server_->close();  // joins civetweb's threads before the routes go
  closed = true;
  waker.join();
}

}  // namespace hbone::admin

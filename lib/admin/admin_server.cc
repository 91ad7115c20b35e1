#include "admin/admin_server.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>
#include <system_error>

#include "admin/heap.h"
#include "admin/profiles.h"
#include "net/fd.h"
#include "net/listen_socket.h"

namespace hbone::admin {

using Handler = HttpServer::Handler;

// One URI; the methods it does not serve get 405. HEAD is GET without the body.
struct AdminServer::Route {
  std::string uri;
  Handler get;
  Handler post;
};

namespace {

HttpResult serve(const std::vector<AdminServer::Route>& routes, const HttpRequest& req) {
  for (const AdminServer::Route& route : routes) {
    if (route.uri != req.path) continue;
    const Handler& h = req.method == "GET" || req.method == "HEAD" ? route.get
                       : req.method == "POST"                      ? route.post
                                                                   : Handler();
    if (!h) return {405, "text/plain", "method not allowed\n"};
    return h(req);  // HttpServer answers an exception with a 500
  }
  return {404, "text/plain", "not found\n"};
}

int int_param(const HttpRequest& req, const char* name, int fallback, int min, int max) {
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

AdminServer::AdminServer(const std::string& key, const address::HostPort& listen, Scope scope, AdminHooks hooks)
    : hooks_(std::move(hooks)), listen_(listen) {
  routes_.push_back({"/metrics", [this](const HttpRequest&) {
    return HttpResult{200, "text/plain; version=0.0.4; charset=utf-8", hooks_.metrics_text()};
  }, nullptr});
  routes_.push_back({"/healthz/ready", [this](const HttpRequest&) {
    return hooks_.ready() ? HttpResult{200, "text/plain", "ready\n"} : HttpResult{503, "text/plain", "not ready\n"};
  }, nullptr});
  if (scope == Scope::full) {
    routes_.push_back({"/debug/pprof/profile", [](const HttpRequest& req) {
      return bad_request_on_invalid([&] {
        return cpu_profile(int_param(req, "seconds", 30, 1, 300), int_param(req, "frequency", 100, 1, 4000));
      });
    }, nullptr});
    routes_.push_back({"/debug/pprof/heap", [](const HttpRequest&) { return heap_profile(); }, nullptr});
    routes_.push_back({"/memory/release", nullptr, [](const HttpRequest&) { return release_memory(); }});
    routes_.push_back({"/debug/tunnels", [this](const HttpRequest&) {
      return HttpResult{200, "application/json", hooks_.tunnels_json()};
    }, nullptr});
    routes_.push_back({"/config_dump", [this](const HttpRequest&) {
      return HttpResult{200, "text/yaml", hooks_.config_dump()};
    }, nullptr});
    routes_.push_back({"/certs", [this](const HttpRequest&) {
      return HttpResult{200, "application/json", hooks_.certs_json()};
    }, nullptr});
    routes_.push_back({"/logging", nullptr, [](const HttpRequest& req) {
      std::string level = req.param("level");
      auto parsed = spdlog::level::from_str(level);
      // from_str maps anything unknown to "off": only accept the real names.
      if (level.empty() || (parsed == spdlog::level::off && level != "off")) {
        return HttpResult{400, "text/plain", "level must be trace, debug, info, warn, error or off\n"};
      }
      spdlog::set_level(parsed);
      spdlog::info("admin: log level set to {}", level);
      return HttpResult{200, "text/plain", "log level: " + level + "\n"};
    }});
    // GET too: Kubernetes' preStop httpGet hook can only GET.
    auto quit = [this](const HttpRequest&) {
      spdlog::info("admin: /quitquitquit: draining");
      hooks_.drain();
      return HttpResult{200, "text/plain", "draining\n"};
    };
    routes_.push_back({"/quitquitquit", quit, quit});
  }
  // Bound here: the same IPv4/IPv6 parsing and errors as every other listener, and no
  // SO_REUSEPORT (a second process must not share the port).
  net::Fd fd;
  try {
    fd = net::listen_on(listen, {.reuse_port = false, .backlog = 128});
  } catch (const std::system_error& e) {
    throw std::runtime_error(key + ": cannot listen on " + listen.to_string() + ": " + e.code().message());
  }
  if (listen_.port == 0) listen_ = net::local_address(fd.get());  // the port the kernel chose
  server_ = std::make_unique<HttpServer>(
      std::move(fd), [this](const HttpRequest& req) { return serve(routes_, req); }, HttpServer::Limits{});
}

AdminServer::~AdminServer() = default;  // where Route is complete

}  // namespace hbone::admin

#include "admin/admin_server.h"

#include <microhttpd.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>
#include <system_error>

#include "admin/heap.h"
#include "net/fd.h"
#include "net/listen_socket.h"

namespace hbone::admin {

struct Request {
  MHD_Connection* conn;
  std::string param(const char* name) const {
    const char* value = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    return value ? value : "";
  }
};

using Handler = std::function<HttpResult(const Request&)>;

// One URI; the methods it does not serve get 405.
struct AdminServer::Route {
  std::string uri;
  Handler get;
  Handler post;
};

namespace {

MHD_Result send(MHD_Connection* conn, const HttpResult& r) {
  MHD_Response* response = MHD_create_response_from_buffer(r.body.size(), const_cast<char*>(r.body.data()),
                                                           MHD_RESPMEM_MUST_COPY);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_Result queued = MHD_queue_response(conn, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return queued;
}

HttpResult serve(const std::vector<AdminServer::Route>& routes, const std::string& method, const char* url,
                 MHD_Connection* conn) {
  for (const AdminServer::Route& route : routes) {
    if (route.uri != url) continue;
    const Handler& h = method == MHD_HTTP_METHOD_GET ? route.get : method == MHD_HTTP_METHOD_POST ? route.post
                                                                                                    : Handler();
    if (!h) return {405, "text/plain", "method not allowed\n"};
    try {
      return h(Request{conn});
    } catch (const std::exception& e) {
      return {500, "text/plain", std::string(e.what()) + "\n"};
    }
  }
  return {404, "text/plain", "not found\n"};
}

// libmicrohttpd calls this first with the headers, then once per piece of body, then
// with nothing left: the answer goes out on the last call (bodies are not used).
MHD_Result on_request(void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
                      const char*, size_t* upload_size, void** state) {
  static int started;
  if (*state == nullptr) {
    *state = &started;
    return MHD_YES;
  }
  if (*upload_size != 0) {
    *upload_size = 0;
    return MHD_YES;
  }
  return send(conn, serve(*static_cast<const std::vector<AdminServer::Route>*>(cls), method, url, conn));
}

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

AdminServer::AdminServer(const std::string& key, const address::HostPort& listen, Scope scope, AdminHooks hooks)
    : hooks_(std::move(hooks)), listen_(listen) {
  routes_.push_back({"/metrics", [this](const Request&) {
    return HttpResult{200, "text/plain; version=0.0.4; charset=utf-8", hooks_.metrics_text()};
  }, nullptr});
  routes_.push_back({"/healthz/ready", [this](const Request&) {
    return hooks_.ready() ? HttpResult{200, "text/plain", "ready\n"} : HttpResult{503, "text/plain", "not ready\n"};
  }, nullptr});
  if (scope == Scope::full) {
    routes_.push_back({"/debug/pprof/profile", [](const Request& req) {
      return bad_request_on_invalid([&] {
        return cpu_profile(int_param(req, "seconds", 30, 1, 300), int_param(req, "frequency", 100, 1, 4000));
      });
    }, nullptr});
    routes_.push_back({"/debug/pprof/heap", [](const Request&) { return heap_profile(); }, nullptr});
    routes_.push_back({"/memory/release", nullptr, [](const Request&) { return release_memory(); }});
    routes_.push_back({"/debug/tunnels", [this](const Request&) {
      return HttpResult{200, "application/json", hooks_.tunnels_json()};
    }, nullptr});
    routes_.push_back({"/config_dump", [this](const Request&) {
      return HttpResult{200, "text/yaml", hooks_.config_dump()};
    }, nullptr});
    routes_.push_back({"/certs", [this](const Request&) {
      return HttpResult{200, "application/json", hooks_.certs_json()};
    }, nullptr});
    routes_.push_back({"/logging", nullptr, [](const Request& req) {
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
    auto quit = [this](const Request&) {
      spdlog::info("admin: /quitquitquit: draining");
      hooks_.drain();
      return HttpResult{200, "text/plain", "draining\n"};
    };
    routes_.push_back({"/quitquitquit", quit, quit});
  }
  // Bound here, not by libmicrohttpd: the same IPv4/IPv6 parsing and errors as every
  // other listener, and no SO_REUSEPORT (a second process must not share the port).
  net::Fd fd;
  try {
    fd = net::listen_on(listen, {.reuse_port = false, .backlog = 128});
  } catch (const std::system_error& e) {
    throw std::runtime_error(key + ": cannot listen on " + listen.to_string() + ": " + e.code().message());
  }
  if (listen_.port == 0) listen_ = net::local_address(fd.get());  // the port the kernel chose
  // A thread per connection (at most 16): a CPU profile holds its request for its whole
  // duration without delaying a scrape.
  daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                                 MHD_USE_ITC,
                             0, nullptr, nullptr, &on_request, &routes_, MHD_OPTION_LISTEN_SOCKET, fd.get(),
                             MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
  if (!daemon_) throw std::runtime_error(key + ": cannot serve on " + listen_.to_string());
  fd.release();  // libmicrohttpd closes it in MHD_stop_daemon
}

AdminServer::~AdminServer() {
  if (daemon_) MHD_stop_daemon(daemon_);  // joins its threads before the routes go
}

}  // namespace hbone::admin

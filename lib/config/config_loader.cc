#include "config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <vector>

#include "config/units.h"
#include "address/destination_policy.h"
#include "identity/spiffe_id.h"

namespace hbone::config {
namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

// Collects problems as "FILE:LINE: key: message" so one run reports all of them.
class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Node& at, const std::string& key, const std::string& message) {
    errors_.push_back(format(at, key, message));
  }
  void warning(const YAML::Node& at, const std::string& key, const std::string& message) {
    warnings_.push_back(format(at, key, message));
  }
  std::vector<std::string>& errors() { return errors_; }
  std::vector<std::string>& warnings() { return warnings_; }

 private:
  std::string format(const YAML::Node& at, const std::string& key, const std::string& message) {
    std::string where = file_;
    if (at.IsDefined() && at.Mark().line >= 0) where += ":" + std::to_string(at.Mark().line + 1);
    return where + ": " + key + ": " + message;
  }

  std::string file_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

std::string quoted(const YAML::Node& node) {
  return node.IsScalar() ? "\"" + node.Scalar() + "\"" : "(not a scalar)";
}

// Reads the keys of one YAML mapping; whatever key no read asks for is reported as unknown.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string prefix, Diagnostics& diag)
      : node_(node), prefix_(std::move(prefix)), diag_(diag) {
    if (node_ && !node_.IsMap()) {
      diag_.error(node_, prefix_.empty() ? "(top level)" : prefix_.substr(0, prefix_.size() - 1),
                  "expected a mapping of keys");
      valid_ = false;
    }
  }
  ~MapReader() {
    if (!valid_ || !node_) return;
    for (const auto& item : node_) {
      // (Found by tests/fuzz/config_fuzz: a null or complex key made as<std::string>()
      // throw out of this destructor.)
      if (!item.first.IsScalar()) {
        diag_.error(item.first, prefix_ + "?", "keys must be plain strings");
        continue;
      }
      const std::string& key = item.first.Scalar();
      if (!known_.count(key)) diag_.error(item.first, prefix_ + key, "unknown key");
    }
  }

  // The node of `key` when present, marking it known.
  YAML::Node child(const std::string& key) {
    known_.insert(key);
    if (!valid_ || !node_) return YAML::Node(YAML::NodeType::Undefined);
    return node_[key];
  }
  std::string path(const std::string& key) const { return prefix_ + key; }
  Diagnostics& diag() { return diag_; }

  void size(const std::string& key, uint32_t& out, uint64_t min, uint64_t max) {
    YAML::Node n = child(key);
    if (!n) return;
    auto value = n.IsScalar() ? parse_size(n.Scalar()) : std::nullopt;
    if (!value) {
      diag_.error(n, path(key), "bad size " + quoted(n) + " (use B, KiB, MiB, GiB)");
    } else if (*value < min || *value > max) {
      diag_.error(n, path(key), "size " + quoted(n) + " out of range " + format_size(min) +
                                    " .. " + std::to_string(max) + "B");
    } else {
      out = static_cast<uint32_t>(*value);
    }
  }

  void duration(const std::string& key, milliseconds& out, milliseconds min) {
    YAML::Node n = child(key);
    if (!n) return;
    auto value = n.IsScalar() ? parse_duration(n.Scalar()) : std::nullopt;
    if (!value) {
      diag_.error(n, path(key), "bad duration " + quoted(n) + " (use ms, s, m)");
    } else if (*value < min) {
      diag_.error(n, path(key), "duration " + quoted(n) + " below " + format_duration(min));
    } else {
      out = *value;
    }
  }

  template <typename Int>
  void integer(const std::string& key, Int& out, uint64_t min, uint64_t max) {
    YAML::Node n = child(key);
    if (!n) return;
    uint64_t value = 0;
    bool ok = n.IsScalar() && !n.Scalar().empty() &&
              n.Scalar().find_first_not_of("0123456789") == std::string::npos &&
              n.Scalar().size() <= 19;
    if (ok) value = std::stoull(n.Scalar());
    if (!ok || value < min || value > max) {
      diag_.error(n, path(key), "bad value " + quoted(n) + ", want an integer " +
                                    std::to_string(min) + " .. " + std::to_string(max));
      return;
    }
    out = static_cast<Int>(value);
  }

  void string(const std::string& key, std::string& out) {
    YAML::Node n = child(key);
    if (!n) return;
    if (!n.IsScalar()) {
      diag_.error(n, path(key), "expected a string");
      return;
    }
    out = n.Scalar();
  }

  // A string that must be one of `options` (listed in the error).
  void choice(const std::string& key, std::string& out, const std::vector<std::string>& options) {
    YAML::Node n = child(key);
    string(key, out);
    if (!n || !n.IsScalar() || std::find(options.begin(), options.end(), out) != options.end()) return;
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "" : ", ") + o;
    diag_.error(n, path(key), "\"" + out + "\" is not one of " + list);
  }

  void host_port(const std::string& key, address::HostPort& out, bool listen) {
    YAML::Node n = child(key);
    if (n) host_port_node(n, path(key), out, listen);
  }

  void host_port_node(const YAML::Node& n, const std::string& name, address::HostPort& out,
                      bool listen) {
    std::string why = "not a scalar";
    auto value = n.IsScalar() ? address::parse_host_port(n.Scalar(), &why, listen) : std::nullopt;
    if (!value) {
      diag_.error(n, name, "bad address " + quoted(n) + ": " + why);
      return;
    }
    if (listen && !address::is_ipv4_literal(value->host) && !address::is_ipv6_literal(value->host)) {
      diag_.error(n, name, "listen address " + quoted(n) + " must be an IP literal");
      return;
    }
    out = *value;
  }

  void boolean(const std::string& key, bool& out) {
    YAML::Node n = child(key);
    if (!n) return;
    if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) {
      out = n.Scalar() == "true";
    } else {
      diag_.error(n, path(key), "bad value " + quoted(n) + ", want true or false");
    }
  }

  void string_list(const std::string& key, std::vector<std::string>& out) {
    YAML::Node n = child(key);
    if (!n) return;
    if (!n.IsSequence()) {
      diag_.error(n, path(key), "expected a list");
      return;
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        diag_.error(item, path(key), "list items must be strings");
        continue;
      }
      out.push_back(item.Scalar());
    }
  }

 private:
  YAML::Node node_;
  std::string prefix_;
  Diagnostics& diag_;
  std::set<std::string> known_;
  bool valid_ = true;
};

bool file_readable(const std::string& path) { return std::ifstream(path).good(); }

void read_tls(MapReader& top, Config& config) {
  TlsConfig& tls = config.tls;
  YAML::Node node = top.child("tls");
  MapReader r(node, "tls.", top.diag());
  r.string("cert", tls.cert);
  r.string("key", tls.key);
  r.string("ca", tls.ca);
  r.string("trust_domain", tls.trust_domain);
  r.duration("handshake_timeout", tls.handshake_timeout, milliseconds(1));
  r.boolean("plaintext_h2c", tls.plaintext_h2c);
  if (tls.plaintext_h2c) {
    // Without TLS there is no peer identity to check.
    if (config.gateway && !config.gateway->allowed_identities.empty()) {
      top.diag().error(node["plaintext_h2c"], "tls.plaintext_h2c",
                       "gateway.allowed_identities needs TLS identities");
    }
    if (config.client && !config.client->gateway_identity.empty()) {
      top.diag().error(node["plaintext_h2c"], "tls.plaintext_h2c",
                       "client.gateway_identity needs TLS identities");
    }
    return;
  }
  if (!config.gateway && !config.client) return;
  if (!node) {
    top.diag().error(node, "tls", "required when client or gateway is configured");
    return;
  }
  if (!node.IsMap()) return;  // reported by the reader (found by tests/fuzz/config_fuzz)
  for (auto [key, value] : {std::pair{"cert", &tls.cert}, {"key", &tls.key}, {"ca", &tls.ca}}) {
    YAML::Node at = node[key];
    if (value->empty()) {
      top.diag().error(at.IsDefined() ? at : node, std::string("tls.") + key, "required");
    } else if (!file_readable(*value)) {
      top.diag().error(at, std::string("tls.") + key,
                       "cannot read file \"" + *value + "\" (missing or no permission)");
    }
  }
  if (!identity::SpiffeId::valid_trust_domain(tls.trust_domain)) {
    top.diag().error(node["trust_domain"], "tls.trust_domain",
                     "invalid trust domain \"" + tls.trust_domain + "\"");
  }
}

void read_gateway(MapReader& top, Config& config) {
  YAML::Node node = top.child("gateway");
  if (!node) return;
  GatewayConfig& gw = config.gateway.emplace();
  MapReader r(node, "gateway.", top.diag());
  r.host_port("listen", gw.listen, /*listen=*/true);
  r.string_list("allowed_identities", gw.allowed_identities);
  for (const auto& id : gw.allowed_identities) {
    if (!identity::SpiffeId::parse(id)) {
      top.diag().error(node["allowed_identities"], "gateway.allowed_identities",
                       "\"" + id + "\" is not a SPIFFE id (spiffe://trust-domain/path)");
    }
  }
  std::vector<std::string> destinations;
  r.string_list("allowed_destinations", destinations);
  try {
    gw.allowed_destinations = address::DestinationPolicy::parse(destinations);
  } catch (const std::invalid_argument& e) {
    top.diag().error(node["allowed_destinations"], "gateway.allowed_destinations", e.what());
  }
  r.duration("connect_timeout", gw.connect_timeout, milliseconds(1));
  std::string balance = gw.exact_balance ? "exact" : "kernel";
  r.choice("balance", balance, {"exact", "kernel"});
  gw.exact_balance = balance == "exact";
}

void read_client(MapReader& top, Config& config) {
  YAML::Node node = top.child("client");
  if (!node) return;
  ClientConfig& client = config.client.emplace();
  MapReader r(node, "client.", top.diag());
  r.host_port("gateway", client.gateway, /*listen=*/false);
  r.string("gateway_identity", client.gateway_identity);
  if (!client.gateway_identity.empty() && !identity::SpiffeId::parse(client.gateway_identity)) {
    top.diag().error(node["gateway_identity"], "client.gateway_identity",
                     "\"" + client.gateway_identity + "\" is not a SPIFFE id");
  }
  r.duration("connect_timeout", client.connect_timeout, milliseconds(1));
  YAML::Node listeners = r.child("listeners");
  if (!listeners || !listeners.IsSequence() || listeners.size() == 0) {
    top.diag().error(listeners.IsDefined() ? listeners : node, "client.listeners",
                     "expected a non-empty list of {listen, target}");
    return;
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    std::string prefix = "client.listeners[" + std::to_string(i) + "].";
    MapReader item(listeners[i], prefix, top.diag());
    ListenerConfig& lc = client.listeners.emplace_back();
    for (const char* key : {"listen", "target"}) {
      if (!item.child(key)) top.diag().error(listeners[i], prefix + key, "required");
    }
    item.host_port("listen", lc.listen, /*listen=*/true);
    item.host_port("target", lc.target, /*listen=*/false);
  }
}

void read_http2(MapReader& top, Config& config) {
  YAML::Node node = top.child("http2");
  MapReader r(node, "http2.", top.diag());
  Http2Config& h2 = config.http2;
  constexpr uint64_t kMaxWindow = (1ull << 31) - 1;  // RFC 9113 §6.9.1
  if (YAML::Node n = node.IsMap() ? node["stream_window"] : YAML::Node(); n && n.IsScalar() && n.Scalar() == "auto") {
    r.child("stream_window");
    h2.auto_window = true;
    h2.stream_window = Http2Config::kAutoInitialWindow;
  } else {
    r.size("stream_window", h2.stream_window, 65535, kMaxWindow);
  }
  r.size("max_window", h2.max_window, 65535, kMaxWindow);
  r.size("connection_window", h2.connection_window, 65535, kMaxWindow);
  r.size("max_frame_size", h2.max_frame_size, 16384, (1u << 24) - 1);  // RFC 9113 §6.5.2
  r.integer("max_concurrent_streams", h2.max_concurrent_streams, 1, 1u << 20);
  r.integer("streams_per_connection", h2.streams_per_connection, 1, 1u << 20);
  r.size("max_header_list_size", h2.max_header_list_size, 1024, 1u << 20);
  r.duration("keepalive_interval", h2.keepalive_interval, milliseconds(0));
  r.duration("keepalive_timeout", h2.keepalive_timeout, milliseconds(1));
  if (!h2.auto_window && h2.stream_window >= h2.connection_window) {
    // Equal windows let one stream take the whole connection window (ztunnel deadlocked).
    top.diag().warning(node["stream_window"], "http2.stream_window",
                       "stream window " + format_size(h2.stream_window) +
                           " >= connection window " + format_size(h2.connection_window) +
                           ": one stalled tunnel can block all others on its connection");
  }
}

void read_socket(MapReader& top, Config& config) {
  MapReader r(top.child("socket"), "socket.", top.diag());
  constexpr uint64_t kMaxSockBuf = 1ull << 30;
  r.size("send_buffer", config.socket.send_buffer, 0, kMaxSockBuf);
  r.size("recv_buffer", config.socket.recv_buffer, 0, kMaxSockBuf);
  r.size("read_size", config.socket.read_size, 4096, 16u << 20);
}

void read_limits(MapReader& top, Config& config) {
  MapReader r(top.child("limits"), "limits.", top.diag());
  r.integer("max_tunnels", config.limits.max_tunnels, 0, 1u << 24);
  r.integer("max_tunnels_per_identity", config.limits.max_tunnels_per_identity, 0, 1u << 24);
  r.duration("idle_timeout", config.limits.idle_timeout, milliseconds(0));
}

LoadResult parse_document(const YAML::Node& root, Diagnostics& diag) {
  LoadResult result;
  Config& config = result.config;
  {
    MapReader top(root, "", diag);
    top.integer("workers", config.workers, 1, 256);
    top.choice("log_level", config.log_level, {"trace", "debug", "info", "warn", "error", "off"});
    top.duration("drain_timeout", config.drain_timeout, milliseconds(0));
    {
      MapReader admin(top.child("admin"), "admin.", diag);
      admin.host_port("listen", config.admin.listen, /*listen=*/true);
    }
    read_gateway(top, config);
    read_client(top, config);
    read_tls(top, config);
    read_http2(top, config);
    read_socket(top, config);
    read_limits(top, config);
    if (!config.gateway && !config.client) {
      diag.error(root, "client/gateway", "nothing to run: configure client, gateway or both");
    }
  }  // readers report unknown keys as they go out of scope
  if (!diag.errors().empty()) throw ConfigError(std::move(diag.errors()));
  result.warnings = std::move(diag.warnings());
  return result;
}

LoadResult parse_text(const std::string& yaml, const std::string& name) {
  Diagnostics diag(name);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError({name + ":" + std::to_string(e.mark.line + 1) + ": (yaml): " + e.msg});
  }
  if (!root || root.IsNull()) throw ConfigError({name + ": (file): empty configuration"});
  return parse_document(root, diag);
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError({path + ": (file): cannot open config file"});
  std::stringstream text;
  text << in.rdbuf();
  return parse_text(text.str(), path);
}

LoadResult load_config_string(const std::string& yaml, const std::string& name) {
  return parse_text(yaml, name);
}

std::string dump_config(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "workers" << YAML::Value << c.workers;
  out << YAML::Key << "log_level" << YAML::Value << c.log_level;
  out << YAML::Key << "drain_timeout" << YAML::Value << format_duration(c.drain_timeout);
  out << YAML::Key << "admin" << YAML::Value << YAML::BeginMap << YAML::Key << "listen"
      << YAML::Value << c.admin.listen.to_string() << YAML::EndMap;
  // Key material stays out of dumps: only where it is read from.
  out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cert" << YAML::Value << c.tls.cert;
  out << YAML::Key << "key" << YAML::Value << c.tls.key;
  out << YAML::Key << "ca" << YAML::Value << c.tls.ca;
  out << YAML::Key << "trust_domain" << YAML::Value << c.tls.trust_domain;
  out << YAML::Key << "handshake_timeout" << YAML::Value << format_duration(c.tls.handshake_timeout);
  out << YAML::Key << "plaintext_h2c" << YAML::Value << c.tls.plaintext_h2c;
  out << YAML::EndMap;
  if (c.gateway) {
    out << YAML::Key << "gateway" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "listen" << YAML::Value << c.gateway->listen.to_string();
    out << YAML::Key << "allowed_identities" << YAML::Value << YAML::Flow
        << c.gateway->allowed_identities;
    out << YAML::Key << "allowed_destinations" << YAML::Value << YAML::Flow
        << c.gateway->allowed_destinations.entries();
    out << YAML::Key << "connect_timeout" << YAML::Value
        << format_duration(c.gateway->connect_timeout);
    out << YAML::Key << "balance" << YAML::Value << (c.gateway->exact_balance ? "exact" : "kernel");
    out << YAML::EndMap;
  }
  if (c.client) {
    out << YAML::Key << "client" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "gateway" << YAML::Value << c.client->gateway.to_string();
    out << YAML::Key << "gateway_identity" << YAML::Value << c.client->gateway_identity;
    out << YAML::Key << "connect_timeout" << YAML::Value
        << format_duration(c.client->connect_timeout);
    out << YAML::Key << "listeners" << YAML::Value << YAML::BeginSeq;
    for (const auto& l : c.client->listeners) {
      out << YAML::BeginMap << YAML::Key << "listen" << YAML::Value << l.listen.to_string()
          << YAML::Key << "target" << YAML::Value << l.target.to_string() << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  const Http2Config& h = c.http2;
  out << YAML::Key << "http2" << YAML::Value << YAML::BeginMap;
  if (h.auto_window) {
    out << YAML::Key << "stream_window" << YAML::Value << "auto";
  } else {
    out << YAML::Key << "stream_window" << YAML::Value << format_size(h.stream_window);
  }
  out << YAML::Key << "max_window" << YAML::Value << format_size(h.max_window);
  out << YAML::Key << "connection_window" << YAML::Value << format_size(h.connection_window);
  out << YAML::Key << "max_frame_size" << YAML::Value << format_size(h.max_frame_size);
  out << YAML::Key << "max_concurrent_streams" << YAML::Value << h.max_concurrent_streams;
  out << YAML::Key << "streams_per_connection" << YAML::Value << h.streams_per_connection;
  out << YAML::Key << "max_header_list_size" << YAML::Value << format_size(h.max_header_list_size);
  out << YAML::Key << "keepalive_interval" << YAML::Value << format_duration(h.keepalive_interval);
  out << YAML::Key << "keepalive_timeout" << YAML::Value << format_duration(h.keepalive_timeout);
  out << YAML::EndMap;
  out << YAML::Key << "socket" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "send_buffer" << YAML::Value << format_size(c.socket.send_buffer);
  out << YAML::Key << "recv_buffer" << YAML::Value << format_size(c.socket.recv_buffer);
  out << YAML::Key << "read_size" << YAML::Value << format_size(c.socket.read_size);
  out << YAML::EndMap;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_tunnels" << YAML::Value << c.limits.max_tunnels;
  out << YAML::Key << "max_tunnels_per_identity" << YAML::Value << c.limits.max_tunnels_per_identity;
  out << YAML::Key << "idle_timeout" << YAML::Value << format_duration(c.limits.idle_timeout);
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace hbone::config

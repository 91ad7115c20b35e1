#include "config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "config/keys.h"
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

  template <typename T>
  void size(const std::string& key, T& out, uint64_t min, uint64_t max) {
    YAML::Node n = child(key);
    if (!n) return;
    auto value = n.IsScalar() ? parse_size(n.Scalar()) : std::nullopt;
    if (!value) {
      diag_.error(n, path(key), "bad size " + quoted(n) + " (use B, KiB, MiB, GiB)");
    } else if (*value < min || *value > max) {
      diag_.error(n, path(key), "size " + quoted(n) + " out of range " + format_size(min) +
                                    " .. " + std::to_string(max) + "B");
    } else {
      out = static_cast<T>(*value);
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
    std::string text = n.IsScalar() ? n.Scalar() : "";
    int base = text.rfind("0x", 0) == 0 ? 16 : 10;  // marks are written in hex
    if (base == 16) text = text.substr(2);
    bool ok = !text.empty() && text.size() <= (base == 16 ? 16u : 19u) &&
              text.find_first_not_of(base == 16 ? "0123456789abcdefABCDEF" : "0123456789") == std::string::npos;
    if (ok) value = std::stoull(text, nullptr, base);
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

  // A listen address that may be "" (off).
  void optional_host_port(const std::string& key, std::optional<address::HostPort>& out, bool listen) {
    YAML::Node n = child(key);
    if (!n) return;
    if (n.IsScalar() && n.Scalar().empty()) {
      out.reset();
      return;
    }
    address::HostPort value;
    if (host_port_node(n, path(key), value, listen)) out = value;
  }

  bool host_port_node(const YAML::Node& n, const std::string& name, address::HostPort& out,
                      bool listen) {
    std::string why = "not a scalar";
    auto value = n.IsScalar() ? address::parse_host_port(n.Scalar(), &why, listen) : std::nullopt;
    if (!value) {
      diag_.error(n, name, "bad address " + quoted(n) + ": " + why);
      return false;
    }
    if (listen && !address::is_ipv4_literal(value->host) && !address::is_ipv6_literal(value->host)) {
      diag_.error(n, name, "listen address " + quoted(n) + " must be an IP literal");
      return false;
    }
    out = *value;
    return true;
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

// Reads keys into a Config (the loader), or with `live_only` only the keys a reload may
// change (Reload::live) into a running config, skipping the rest.
class Parser {
 public:
  Parser(const YAML::Node& root, Diagnostics& diag, bool live_only)
      : diag_(diag), live_only_(live_only) {
    readers_.push_back(std::make_unique<MapReader>(root, "", diag));
  }
  // Reports unknown top-level keys.
  void finish() { readers_.clear(); }

  template <typename F>
  void section(const Key& key, F&& fn) {
    enter(reader().child(key.name), key.name);
    fn();
    leave();
  }
  template <typename T, typename F>
  void optional_section(const Key& key, std::optional<T>& out, F&& fn) {
    YAML::Node node = reader().child(key.name);
    if (!node || (live_only_ && !out)) return;  // a new role needs a restart
    if (!out) out.emplace();
    enter(node, key.name);
    fn(*out);
    leave();
  }
  template <typename T, typename F>
  void list(const Key& key, const char* what, std::vector<T>& out, bool required, F&& fn) {
    YAML::Node node = reader().child(key.name);
    if (skipped(key)) return;
    out.clear();  // a reload replaces a live list, or empties it when the file has none
    if (!node && !required) return;
    if (!node || !node.IsSequence() || node.size() == 0) {
      diag_.error(node.IsDefined() ? node : reader_node(), reader().path(key.name),
                  std::string("expected a non-empty list of ") + what);
      return;
    }
    for (size_t i = 0; i < node.size(); ++i) {
      // reset() rebinds; `=` would write node[i] into the item it held (the outer list's, in
      // a list inside a list item).
      list_item_.reset(node[i]);
      enter(node[i], std::string(key.name) + "[" + std::to_string(i) + "]");
      fn(out.emplace_back());
      leave();
    }
  }

  template <typename Int>
  void integer(const Key& key, Int& out, uint64_t min, uint64_t max) {
    if (!skipped(key)) reader().integer(key.name, out, min, max);
  }
  template <typename T>
  void size(const Key& key, T& out, uint64_t min, uint64_t max) {
    if (!skipped(key)) reader().size(key.name, out, min, max);
  }
  void duration(const Key& key, milliseconds& out, milliseconds min) {
    if (!skipped(key)) reader().duration(key.name, out, min);
  }
  void string(const Key& key, std::string& out) {
    if (!skipped(key)) reader().string(key.name, out);
  }
  void boolean(const Key& key, bool& out) {
    if (!skipped(key)) reader().boolean(key.name, out);
  }
  void choice(const Key& key, std::string& out, const std::vector<std::string>& options) {
    if (!skipped(key)) reader().choice(key.name, out, options);
  }
  void toggle(const Key& key, bool& out, const char* on, const char* off) {
    if (skipped(key)) return;
    std::string word = out ? on : off;
    reader().choice(key.name, word, {on, off});
    out = word == on;
  }
  void host_port(const Key& key, address::HostPort& out, bool listen, bool needed) {
    if (needed ? !required(key) : skipped(key)) return;
    reader().host_port(key.name, out, listen);
  }
  void optional_host_port(const Key& key, std::optional<address::HostPort>& out, bool listen) {
    if (!skipped(key)) reader().optional_host_port(key.name, out, listen);
  }
  void spiffe_id(const Key& key, std::string& out) {
    if (skipped(key)) return;
    reader().string(key.name, out);
    if (!out.empty() && !identity::SpiffeId::parse(out)) {
      diag_.error(reader().child(key.name), reader().path(key.name), "\"" + out + "\" is not a SPIFFE id");
    }
  }
  void identities(const Key& key, std::vector<std::string>& out) {
    if (skipped(key)) return;
    out.clear();
    reader().string_list(key.name, out);
    for (const auto& id : out) {
      if (!identity::SpiffeId::parse(id)) {
        diag_.error(reader().child(key.name), reader().path(key.name),
                    "\"" + id + "\" is not a SPIFFE id (spiffe://trust-domain/path)");
      }
    }
  }
  void destinations(const Key& key, address::DestinationPolicy& out) {
    if (skipped(key)) return;
    std::vector<std::string> entries;
    reader().string_list(key.name, entries);
    try {
      out = address::DestinationPolicy::parse(entries);
    } catch (const std::invalid_argument& e) {
      diag_.error(reader().child(key.name), reader().path(key.name), e.what());
    }
  }
  void window(const Key& key, uint32_t& out, bool& automatic) {
    if (skipped(key)) return;
    YAML::Node n = reader().child(key.name);
    if (n && n.IsScalar() && n.Scalar() == "auto") {
      automatic = true;
      out = Http2Config::kAutoInitialWindow;
      return;
    }
    reader().size(key.name, out, 65535, kMaxWindow);
  }
  void cidr(const Key& key, address::Cidr& out) {
    if (YAML::Node n = required(key)) {
      auto value = n.IsScalar() ? address::Cidr::parse(n.Scalar()) : std::nullopt;
      if (value) {
        out = *value;
      } else {
        diag_.error(n, reader().path(key.name), "bad CIDR " + quoted(n) + " (e.g. 10.0.0.0/8, fd00::/16)");
      }
    }
  }
  template <typename T>
  void numbers(const Key& key, std::vector<T>& out, const char* noun, unsigned min, unsigned max) {
    if (skipped(key)) return;
    out.clear();
    std::vector<std::string> items;
    reader().string_list(key.name, items);
    for (const auto& item : items) {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
      if (item.empty() || ec != std::errc() || end != item.data() + item.size() || value < min || value > max) {
        diag_.error(reader().child(key.name), reader().path(key.name),
                    "bad " + std::string(noun) + " \"" + item + "\" (" + std::to_string(min) + ".." +
                        std::to_string(max) + ")");
        continue;
      }
      out.push_back(static_cast<T>(value));
    }
  }
  void patterns(const Key& key, std::vector<std::string>& out) {
    if (skipped(key)) return;
    out.clear();
    reader().string_list(key.name, out);
    for (const auto& pattern : out) {
      if (!policy::valid_pattern(pattern)) {
        diag_.error(reader().child(key.name), reader().path(key.name),
                    "bad pattern \"" + pattern + "\" (exact, *, prefix* or *suffix)");
      }
    }
  }
  void cidrs(const Key& key, std::vector<address::Cidr>& out) {
    if (skipped(key)) return;
    out.clear();
    std::vector<std::string> items;
    reader().string_list(key.name, items);
    for (const auto& item : items) {
      // A bare address is one host, as Istio's ipBlocks read it.
      std::string text = item.find('/') != std::string::npos ? item
                         : item + (item.find(':') != std::string::npos ? "/128" : "/32");
      if (auto cidr = address::Cidr::parse(text)) {
        out.push_back(*cidr);
      } else {
        diag_.error(reader().child(key.name), reader().path(key.name),
                    "bad CIDR \"" + item + "\" (e.g. 198.18.0.0/15, 198.18.0.1, fd00::/16)");
      }
    }
  }
  void route_via(const Key& key, address::RouteVia& out) {
    if (YAML::Node n = required(key)) {
      std::string why = "not a scalar";
      auto value = n.IsScalar() ? address::RouteVia::parse(n.Scalar(), &why) : std::nullopt;
      if (value) {
        out = *value;
      } else {
        diag_.error(n, reader().path(key.name), "bad route " + quoted(n) + ": " + why);
      }
    }
  }

 private:
  MapReader& reader() { return *readers_.back(); }
  // The node of a key every list item must have; reports it when missing.
  YAML::Node required(const Key& key) {
    if (skipped(key)) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node n = reader().child(key.name);
    if (!n) diag_.error(list_item_, reader().path(key.name), "required");
    return n;
  }
  YAML::Node reader_node() { return nodes_.empty() ? YAML::Node() : nodes_.back(); }
  void enter(const YAML::Node& node, const std::string& name) {
    nodes_.push_back(node);
    readers_.push_back(std::make_unique<MapReader>(node, reader().path(name) + ".", diag_));
  }
  void leave() {
    readers_.pop_back();  // reports the section's unknown keys
    nodes_.pop_back();
  }
  // In a reload, keys that need a restart are only marked as known.
  bool skipped(const Key& key) {
    if (!live_only_ || key.reload == Reload::live) return false;
    reader().child(key.name);
    return true;
  }

  Diagnostics& diag_;
  bool live_only_;
  std::vector<std::unique_ptr<MapReader>> readers_;
  std::vector<YAML::Node> nodes_;
  YAML::Node list_item_;
};

// `node[key]` where node is a mapping; else undefined (the readers reported the shape).
// (Found by tests/fuzz/config_fuzz: a scalar document made operator[] throw.)
YAML::Node field(const YAML::Node& node, const char* key) {
  return node.IsMap() ? node[key] : YAML::Node(YAML::NodeType::Undefined);
}

// Two listen addresses that would take the same connections: the same port on the same
// address, or on a wildcard of a family that covers the other ([::] takes IPv4 too).
bool overlapping(const address::HostPort& a, const address::HostPort& b) {
  if (a.port == 0 || a.port != b.port) return false;  // port 0: the kernel picks distinct ports
  auto wildcard = [](const address::HostPort& h) { return h.host == "0.0.0.0" || h.host == "::"; };
  if (a.host == b.host || a.host == "::" || b.host == "::") return true;
  return (wildcard(a) || wildcard(b)) && a.is_ipv6() == b.is_ipv6();
}

// hbone's listeners must not share an address: SO_REUSEPORT would let two of its own
// sockets bind it and split its connections between them silently; for admin ones the start
// would fail. Reported at the later of the two in admin, gateway, client order.
void check_listeners(const YAML::Node& root, const Config& config, Diagnostics& diag) {
  std::vector<std::tuple<std::string, address::HostPort, YAML::Node>> all;
  YAML::Node admin = field(root, "admin");
  all.emplace_back("admin.listen", config.admin.listen, field(admin, "listen"));
  if (config.admin.metrics_listen) {
    all.emplace_back("admin.metrics_listen", *config.admin.metrics_listen, field(admin, "metrics_listen"));
  }
  if (config.gateway) all.emplace_back("gateway.listen", config.gateway->listen, field(field(root, "gateway"), "listen"));
  if (config.client) {
    YAML::Node client = field(root, "client");
    YAML::Node listeners = field(client, "listeners");
    for (size_t i = 0; i < config.client->listeners.size(); ++i) {
      YAML::Node item = listeners.IsSequence() && i < listeners.size() ? listeners[i] : YAML::Node();
      all.emplace_back("client.listeners[" + std::to_string(i) + "].listen", config.client->listeners[i].listen,
                       field(item, "listen"));
    }
    if (config.client->capture) {
      all.emplace_back("client.capture.listen", config.client->capture->listen, field(field(client, "capture"), "listen"));
    }
  }
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const auto& [key, address, at] = all[i];
      if (!overlapping(address, std::get<1>(all[j]))) continue;
      diag.error(at.IsDefined() ? at : root, key,
                 address.to_string() + " overlaps " + std::get<0>(all[j]) + " (" + std::get<1>(all[j]).to_string() +
                     "): each listener needs an address of its own");
      break;
    }
  }
}

// A rule's `from` or `to`, if written, names something: Istio rejects an empty source or
// operation, and an empty list would read here as "any" where its author meant "none of these"
// (`principals: []` would let every peer through an ALLOW).
void check_rule_part(const YAML::Node& part, const std::string& path, Diagnostics& diag) {
  if (!part.IsDefined() || !part.IsMap()) return;  // absent, or already reported
  if (part.size() == 0) {
    diag.error(part, path, "empty: name at least one field, or leave it out (a rule without it matches any)");
    return;
  }
  for (const auto& entry : part) {
    if (entry.second.IsSequence() && entry.second.size() == 0) {
      diag.error(entry.second, path + "." + entry.first.as<std::string>(),
                 "empty: it would match anything (Istio rejects it); list entries, or leave the field out");
    }
  }
}

// Rules between keys, once every key is read.
// Every policy is named, once: the name is what the log and the metrics report.
void check_policies(const YAML::Node& node, const GatewayConfig& gateway, Diagnostics& diag) {
  std::set<std::string> names;
  for (size_t i = 0; i < gateway.policies.size(); ++i) {
    const std::string& name = gateway.policies[i].name;
    std::string path = "gateway.policies[" + std::to_string(i) + "].name";
    YAML::Node at = node && node.IsSequence() && i < node.size() ? node[i] : node;
    YAML::Node rules = field(at, "rules");
    for (size_t r = 0; rules.IsSequence() && r < rules.size(); ++r) {
      std::string rule_path = "gateway.policies[" + std::to_string(i) + "].rules[" + std::to_string(r) + "]";
      for (const char* part : {"from", "to"}) check_rule_part(field(rules[r], part), rule_path + "." + part, diag);
    }
    if (name.empty()) {
      diag.error(at, path, "required (the log and metrics name the policy that decided)");
    } else if (name == policy::kNoneMatched) {
      diag.error(field(at, "name"), path, "\"none-matched\" is what the log says when no ALLOW policy matched");
    } else if (!names.insert(name).second) {
      diag.error(field(at, "name"), path, "a second policy named \"" + name + "\"");
    }
  }
}

void validate(const YAML::Node& root, Config& config, Diagnostics& diag) {
  check_listeners(root, config, diag);
  const TlsConfig& tls = config.tls;
  YAML::Node node = field(root, "tls");
  if (!config.gateway && !config.client) {
    diag.error(root, "client/gateway", "nothing to run: configure client, gateway or both");
  }
  if (tls.plaintext_h2c) {
    // Without TLS there is no peer identity to check.
    if (config.gateway && !config.gateway->allowed_identities.empty()) {
      diag.error(field(node, "plaintext_h2c"), "tls.plaintext_h2c", "gateway.allowed_identities needs TLS identities");
    }
    if (config.client && !config.client->gateway_identity.empty()) {
      diag.error(field(node, "plaintext_h2c"), "tls.plaintext_h2c", "client.gateway_identity needs TLS identities");
    }
  } else if (config.gateway || config.client) {
    if (!node) {
      diag.error(node, "tls", "required when client or gateway is configured");
    } else if (node.IsMap()) {  // else reported by the reader (found by tests/fuzz/config_fuzz)
      for (auto [key, value] : {std::pair{"cert", &tls.cert}, {"key", &tls.key}, {"ca", &tls.ca}}) {
        YAML::Node at = field(node, key);
        if (value->empty()) {
          diag.error(at.IsDefined() ? at : node, std::string("tls.") + key, "required");
        } else if (!file_readable(*value)) {
          diag.error(at, std::string("tls.") + key, "cannot read file \"" + *value + "\" (missing or no permission)");
        }
      }
      if (!identity::SpiffeId::valid_trust_domain(tls.trust_domain)) {
        diag.error(field(node, "trust_domain"), "tls.trust_domain", "invalid trust domain \"" + tls.trust_domain + "\"");
      }
    }
  }
  if (const auto& gateway = config.gateway) check_policies(field(field(root, "gateway"), "policies"), *gateway, diag);
  if (const auto& client = config.client) {
    YAML::Node at = field(root, "client");
    if (client->listeners.empty() && !client->capture && !field(at, "listeners")) {
      diag.error(at, "client.listeners", "required unless client.capture is set (the client has nothing to accept)");
    }
    if (client->capture && client->routes.empty()) {
      diag.error(field(at, "capture"), "client.routes", "required with client.capture (every captured connection would be reset)");
    }
    if (!client->capture && !client->routes.empty()) {
      diag.error(field(at, "routes"), "client.capture", "required with client.routes (routes apply to captured connections)");
    }
    YAML::Node routes = field(at, "routes");
    for (size_t i = 0; i < client->routes.size(); ++i) {
      const auto& route = client->routes[i];
      YAML::Node item = routes && routes.IsSequence() && i < routes.size() ? routes[i] : routes;
      std::string path = "client.routes[" + std::to_string(i) + "].via";
      if (route.through && route.via.kind == address::RouteVia::Kind::direct) {
        diag.error(field(item, "via"), path, "a direct route has no gateway to reach through another");
      } else if (!route.through && !route.through_identity.empty()) {
        diag.error(field(item, "via_identity"), path + "_identity", "set without via");
      }
    }
    if (tls.plaintext_h2c) {
      for (const auto& route : client->routes) {
        if (!route.identity.empty()) {
          diag.error(field(at, "routes"), "client.routes", "identity needs TLS identities (tls.plaintext_h2c is set)");
          break;
        }
      }
    }
  }
  const Http2Config& h2 = config.http2;
  if (!h2.auto_window && h2.stream_window >= h2.connection_window) {
    // Equal windows let one stream take the whole connection window (ztunnel deadlocked).
    diag.warning(field(field(root, "http2"), "stream_window"), "http2.stream_window",
                 "stream window " + format_size(h2.stream_window) + " >= connection window " +
                     format_size(h2.connection_window) + ": one stalled tunnel can block all others on its connection");
  }
}

LoadResult parse_document(const YAML::Node& root, Diagnostics& diag) {
  LoadResult result;
  Parser parser(root, diag, /*live_only=*/false);
  visit_keys(parser, result.config);
  parser.finish();  // unknown top-level keys
  validate(root, result.config, diag);
  if (!diag.errors().empty()) throw ConfigError(std::move(diag.errors()));
  result.warnings = std::move(diag.warnings());
  return result;
}

// Each kind of value as the text the loader reads back; Derived::put(key, text) and
// Derived::put_list(key, items) record it.
template <typename Derived>
class ValueWriter {
 public:
  template <typename Int>
  void integer(const Key& key, const Int& v, uint64_t, uint64_t) { self().put(key, std::to_string(v)); }
  void size(const Key& key, uint64_t v, uint64_t, uint64_t) { self().put(key, format_size(v)); }
  void duration(const Key& key, milliseconds v, milliseconds) { self().put(key, format_duration(v)); }
  void string(const Key& key, const std::string& v) { self().put(key, v); }
  void boolean(const Key& key, bool v) { self().put(key, v ? "true" : "false"); }
  void choice(const Key& key, const std::string& v, const std::vector<std::string>&) { self().put(key, v); }
  void toggle(const Key& key, bool v, const char* on, const char* off) { self().put(key, v ? on : off); }
  void host_port(const Key& key, const address::HostPort& v, bool, bool) { self().put(key, v.to_string()); }
  void optional_host_port(const Key& key, const std::optional<address::HostPort>& v, bool) {
    self().put(key, v ? v->to_string() : "");
  }
  void spiffe_id(const Key& key, const std::string& v) { self().put(key, v); }
  void identities(const Key& key, const std::vector<std::string>& v) { self().put_list(key, v); }
  void destinations(const Key& key, const address::DestinationPolicy& v) { self().put_list(key, v.entries()); }
  void window(const Key& key, uint32_t v, bool automatic) {
    self().put(key, automatic ? "auto" : format_size(v));
  }
  void cidr(const Key& key, const address::Cidr& v) { self().put(key, v.to_string()); }
  template <typename T>
  void numbers(const Key& key, const std::vector<T>& v, const char*, unsigned, unsigned) {
    std::vector<std::string> items;
    for (T value : v) items.push_back(std::to_string(value));
    self().put_list(key, items);
  }
  void route_via(const Key& key, const address::RouteVia& v) { self().put(key, v.to_string()); }
  void patterns(const Key& key, const std::vector<std::string>& v) { self().put_list(key, v); }
  void cidrs(const Key& key, const std::vector<address::Cidr>& v) {
    std::vector<std::string> items;
    for (const auto& cidr : v) items.push_back(cidr.to_string());
    self().put_list(key, items);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

// Writes each key's value as YAML (the format the loader reads back). Empty lists (every
// list key's default) and sections left empty are left out: a policy rule's `from: {}` or
// `principals: []` is an error to the loader, and the dump must read back.
class Dumper : public ValueWriter<Dumper> {
 public:
  explicit Dumper(YAML::Emitter& out) : out_(out) {}

  template <typename F>
  void section(const Key& key, F&& fn) {
    pending_.push_back(key.name);  // opened with its first value
    fn();
    if (!pending_.empty()) {
      pending_.pop_back();  // nothing in it
    } else {
      out_ << YAML::EndMap;
    }
  }
  template <typename T, typename F>
  void optional_section(const Key& key, const std::optional<T>& value, F&& fn) {
    if (value) section(key, [&] { fn(*value); });
  }
  template <typename T, typename F>
  void list(const Key& key, const char*, const std::vector<T>& items, bool, F&& fn) {
    if (items.empty()) return;
    open_pending();
    out_ << YAML::Key << key.name << YAML::Value << YAML::BeginSeq;
    for (const T& item : items) {
      out_ << YAML::BeginMap;
      fn(item);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }
  void put(const Key& key, const std::string& text) {
    open_pending();
    out_ << YAML::Key << key.name << YAML::Value << text;
  }
  void put_list(const Key& key, const std::vector<std::string>& items) {
    if (items.empty()) return;
    open_pending();
    out_ << YAML::Key << key.name << YAML::Value << YAML::Flow << items;
  }

 private:
  void open_pending() {
    for (const char* name : pending_) out_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
    pending_.clear();
  }

  YAML::Emitter& out_;
  std::vector<const char*> pending_;  // sections entered that have no value written yet
};

// Keeps the dotted path of the section being visited.
class PathTracker {
 protected:
  template <typename F>
  void nested(const std::string& name, F&& fn) {
    std::string saved = prefix_;
    prefix_ += name + ".";
    fn();
    prefix_ = saved;
  }
  std::string path(const Key& key) const { return prefix_ + key.name; }

 private:
  std::string prefix_;
};

// Each key's path, reload class and value as text: what a reload compares.
class Flattener : public ValueWriter<Flattener>, PathTracker {
 public:
  struct Entry {
    std::string path;
    Reload reload;
    std::string value;
  };
  std::vector<Entry> entries;

  template <typename F>
  void section(const Key& key, F&& fn) {
    nested(key.name, fn);
  }
  template <typename T, typename F>
  void optional_section(const Key& key, const std::optional<T>& value, F&& fn) {
    entries.push_back({path(key), key.reload, value ? "present" : "absent"});
    if (value) nested(key.name, [&] { fn(*value); });
  }
  template <typename T, typename F>
  void list(const Key& key, const char*, const std::vector<T>& items, bool, F&& fn) {
    entries.push_back({path(key), key.reload, std::to_string(items.size()) + " items"});
    for (size_t i = 0; i < items.size(); ++i) {
      nested(std::string(key.name) + "[" + std::to_string(i) + "]", [&] { fn(items[i]); });
    }
  }
  void put(const Key& key, std::string value) { entries.push_back({path(key), key.reload, std::move(value)}); }
  void put_list(const Key& key, const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += item + "\n";
    put(key, std::move(text));
  }
};

// The README's key table: each key with its default (a default Config's value).
class Documenter : PathTracker {
 public:
  const std::string& table() const { return out_; }
  const std::vector<std::string>& live() const { return live_; }

  template <typename F>
  void section(const Key& key, F&& fn) {
    nested(key.name, fn);
  }
  template <typename T, typename F>
  void optional_section(const Key& key, const std::optional<T>&, F&& fn) {
    const T defaults{};
    nested(key.name, [&] { fn(defaults); });
  }
  template <typename T, typename F>
  void list(const Key& key, const char* what, const std::vector<T>&, bool required, F&& fn) {
    row(key, required ? "required" : "[]", std::string("list of ") + what + ": ");
    const T defaults{};
    nested(std::string(key.name) + "[]", [&] { fn(defaults); });
  }
  template <typename Int>
  void integer(const Key& key, const Int& v, uint64_t, uint64_t) { row(key, std::to_string(v)); }
  void size(const Key& key, uint64_t v, uint64_t, uint64_t) { row(key, format_size(v)); }
  void duration(const Key& key, milliseconds v, milliseconds) { row(key, format_duration(v)); }
  void string(const Key& key, const std::string& v) { row(key, v.empty() ? "\"\"" : v); }
  void boolean(const Key& key, bool v) { row(key, v ? "true" : "false"); }
  void choice(const Key& key, const std::string& v, const std::vector<std::string>&) { row(key, v); }
  void toggle(const Key& key, bool v, const char* on, const char* off) { row(key, v ? on : off); }
  void host_port(const Key& key, const address::HostPort& v, bool, bool required) {
    row(key, required ? "required" : v.to_string());
  }
  void optional_host_port(const Key& key, const std::optional<address::HostPort>&, bool) { row(key, "\"\""); }
  void spiffe_id(const Key& key, const std::string& v) { string(key, v); }
  void identities(const Key& key, const std::vector<std::string>&) { row(key, "[]"); }
  void destinations(const Key& key, const address::DestinationPolicy&) { row(key, "[]"); }
  void window(const Key& key, uint32_t v, bool) { row(key, format_size(v)); }
  void cidr(const Key& key, const address::Cidr&) { row(key, "required"); }
  template <typename T>
  void numbers(const Key& key, const std::vector<T>&, const char*, unsigned, unsigned) {
    row(key, "[]");
  }
  void route_via(const Key& key, const address::RouteVia&) { row(key, "required"); }
  void patterns(const Key& key, const std::vector<std::string>&) { row(key, "[]"); }
  void cidrs(const Key& key, const std::vector<address::Cidr>&) { row(key, "[]"); }

 private:
  void row(const Key& key, const std::string& value, const std::string& lead = "") {
    if (key.reload == Reload::live) live_.push_back(path(key));
    out_ += "| `" + path(key) + "` | " + value + " | " + (key.reload == Reload::live ? "live" : "restart") +
            " | " + lead + key.help + " |\n";
  }
  std::string out_ = "| key | default | reload | meaning |\n| --- | --- | --- | --- |\n";
  std::vector<std::string> live_;
};

std::vector<Flattener::Entry> flatten(const Config& config) {
  Flattener f;
  visit_keys(f, config);
  return std::move(f.entries);
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

std::string dump_config(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Dumper dumper(out);
  visit_keys(dumper, config);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

ReloadPlan plan_reload(const Config& running, const Config& loaded) {
  ReloadPlan plan{running, {}};
  // The live keys of `loaded`, read back from its dump by the loader's own code.
  Diagnostics diag("reload");
  Parser parser(YAML::Load(dump_config(loaded)), diag, /*live_only=*/true);
  visit_keys(parser, plan.effective);
  parser.finish();
  std::map<std::string, std::string> before;
  for (auto& entry : flatten(running)) before[entry.path] = entry.value;
  for (auto& entry : flatten(loaded)) {
    auto it = before.find(entry.path);
    if (entry.reload == Reload::restart && (it == before.end() || it->second != entry.value)) {
      plan.restart_keys.push_back(entry.path);
    }
    if (it != before.end()) before.erase(it);
  }
  for (auto& [path, value] : before) plan.restart_keys.push_back(path);  // gone from the file
  return plan;
}

std::string key_table() {
  Documenter doc;
  const Config defaults;
  visit_keys(doc, defaults);
  return doc.table();
}

std::vector<std::string> live_keys() {
  Documenter doc;
  const Config defaults;
  visit_keys(doc, defaults);
  return doc.live();
}

}  // namespace hbone::config

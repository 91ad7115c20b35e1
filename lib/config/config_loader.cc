#include "config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "config/config_checks.h"
#include "config/diagnostics.h"
#include "config/keys.h"
#include "config/live_copy.h"
#include "config/units.h"
#include "address/destination_policy.h"
#include "identity/spiffe_id.h"
#include "util/file.h"

namespace hbone::config {
namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

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
    std::string value = out;
    string(key, value);
    if (!n || !n.IsScalar() || std::find(options.begin(), options.end(), value) != options.end()) {
      out = value;
      return;
    }
    // The default stays: no check downstream reasons from a word that means nothing.
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "" : ", ") + o;
    diag_.error(n, path(key), "\"" + value + "\" is not one of " + list);
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


// Reads keys into a Config.
class Parser {
 public:
  Parser(const YAML::Node& root, Diagnostics& diag) : diag_(diag) {
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
    if (!node) return;
    if (!out) out.emplace();
    enter(node, key.name);
    fn(*out);
    leave();
  }
  template <typename T, typename F>
  void list(const Key& key, const char* what, std::vector<T>& out, bool required, F&& fn) {
    YAML::Node node = reader().child(key.name);
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
    reader().integer(key.name, out, min, max);
  }
  template <typename T>
  void size(const Key& key, T& out, uint64_t min, uint64_t max) {
    reader().size(key.name, out, min, max);
  }
  void duration(const Key& key, milliseconds& out, milliseconds min) {
    reader().duration(key.name, out, min);
  }
  void string(const Key& key, std::string& out) {
    reader().string(key.name, out);
  }
  void boolean(const Key& key, bool& out) {
    reader().boolean(key.name, out);
  }
  void choice(const Key& key, std::string& out, const std::vector<std::string>& options) {
    reader().choice(key.name, out, options);
  }
  void toggle(const Key& key, bool& out, const char* on, const char* off) {
    std::string word = out ? on : off;
    reader().choice(key.name, word, {on, off});
    out = word == on;
  }
  void host_port(const Key& key, address::HostPort& out, bool listen, bool needed) {
    if (needed && !required(key)) return;
    reader().host_port(key.name, out, listen);
  }
  void optional_host_port(const Key& key, std::optional<address::HostPort>& out, bool listen) {
    reader().optional_host_port(key.name, out, listen);
  }
  void spiffe_id(const Key& key, std::string& out) {
    reader().string(key.name, out);
    if (!out.empty() && !identity::SpiffeId::parse(out)) {
      diag_.error(reader().child(key.name), reader().path(key.name), "\"" + out + "\" is not a SPIFFE id");
    }
  }
  void identities(const Key& key, std::vector<std::string>& out) {
    reader().string_list(key.name, out);
    for (const auto& id : out) {
      if (!identity::SpiffeId::parse(id)) {
        diag_.error(reader().child(key.name), reader().path(key.name),
                    "\"" + id + "\" is not a SPIFFE id (spiffe://trust-domain/path)");
      }
    }
  }
  void destinations(const Key& key, address::DestinationPolicy& out) {
    std::vector<std::string> entries;
    reader().string_list(key.name, entries);
    try {
      out = address::DestinationPolicy::parse(entries);
    } catch (const std::invalid_argument& e) {
      diag_.error(reader().child(key.name), reader().path(key.name), e.what());
    }
  }
  void window(const Key& key, uint32_t& out, bool& automatic) {
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
    reader().string_list(key.name, out);
    for (const auto& pattern : out) {
      if (!policy::valid_pattern(pattern)) {
        diag_.error(reader().child(key.name), reader().path(key.name),
                    "bad pattern \"" + pattern + "\" (exact, *, prefix* or *suffix)");
      }
    }
  }
  void cidrs(const Key& key, std::vector<address::Cidr>& out) {
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
  Diagnostics& diag_;
  std::vector<std::unique_ptr<MapReader>> readers_;
  std::vector<YAML::Node> nodes_;
  YAML::Node list_item_;
};

LoadResult parse_document(const YAML::Node& root, Diagnostics& diag) {
  LoadResult result;
  Parser parser(root, diag);
  visit_keys(parser, result.config);
  parser.finish();  // unknown top-level keys
  check_config(root, result.config, diag);
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
  std::optional<std::string> text = util::read_file(path);
  if (!text) throw ConfigError({path + ": (file): cannot open config file"});
  return parse_text(*text, path);
}

LoadResult load_config_string(const std::string& yaml, const std::string& name) {
  return parse_text(yaml, name);
}

ReloadPlan plan_reload(const Config& running, const Config& loaded) {
  ReloadPlan plan{running, {}};
  copy_live_keys(loaded, plan.effective);
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

}  // namespace hbone::config

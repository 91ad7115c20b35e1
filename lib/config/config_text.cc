#include "config/config_text.h"

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/key_path.h"
#include "config/units.h"

namespace hbone::config {
namespace {

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

// Each key's path, reload class and value as text: what a reload compares.
class Flattener : public ValueWriter<Flattener>, KeyPath {
 public:
  std::vector<FlatKey> entries;

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
class Documenter : KeyPath {
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

}  // namespace

std::vector<FlatKey> flatten(const Config& config) {
  Flattener f;
  visit_keys(f, config);
  return std::move(f.entries);
}

std::string dump_config(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Dumper dumper(out);
  visit_keys(dumper, config);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
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

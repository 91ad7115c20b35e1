#include "config/live_copy.h"

#include <any>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "config/key_path.h"
#include "config/keys.h"

namespace hbone::config {
namespace {

// Visits a const Config to record its live values by path, then a Config to assign them:
// the same walk both ways, so a key declared in keys.h cannot be left out.
class LiveValues : KeyPath {
 public:
  template <typename F>
  void section(const Key& key, F&& fn) {
    nested(key.name, fn);
  }
  template <typename T, typename F>
  void optional_section(const Key& key, T& value, F&& fn) {
    if (value) nested(key.name, [&] { fn(*value); });
  }
  // Every list is live, and copied whole: its items have no other identity than their place.
  template <typename T, typename F>
  void list(const Key& key, const char*, T& items, bool, F&&) {
    take(key, items);
  }
  template <typename T, typename... Rest>
  void integer(const Key& key, T& v, Rest&&...) { take(key, v); }
  template <typename T, typename... Rest>
  void size(const Key& key, T& v, Rest&&...) { take(key, v); }
  template <typename T, typename... Rest>
  void duration(const Key& key, T& v, Rest&&...) { take(key, v); }
  template <typename T>
  void string(const Key& key, T& v) { take(key, v); }
  template <typename T>
  void boolean(const Key& key, T& v) { take(key, v); }
  template <typename T>
  void choice(const Key& key, T& v, const std::vector<std::string>&) { take(key, v); }
  template <typename T, typename... Rest>
  void toggle(const Key& key, T& v, Rest&&...) { take(key, v); }
  template <typename T, typename... Rest>
  void host_port(const Key& key, T& v, Rest&&...) { take(key, v); }
  template <typename T, typename... Rest>
  void optional_host_port(const Key& key, T& v, Rest&&...) { take(key, v); }
  template <typename T>
  void spiffe_id(const Key& key, T& v) { take(key, v); }
  template <typename T>
  void identities(const Key& key, T& v) { take(key, v); }
  template <typename T>
  void destinations(const Key& key, T& v) { take(key, v); }
  template <typename T, typename B>
  void window(const Key& key, T& v, B& automatic) {
    take(key, v);
    put(path(key) + ".auto", key.reload, automatic);
  }
  template <typename T>
  void cidr(const Key& key, T& v) { take(key, v); }
  template <typename T, typename... Rest>
  void numbers(const Key& key, T& v, Rest&&...) { take(key, v); }
  template <typename T>
  void route_via(const Key& key, T& v) { take(key, v); }
  template <typename T>
  void patterns(const Key& key, T& v) { take(key, v); }
  template <typename T>
  void cidrs(const Key& key, T& v) { take(key, v); }

 private:
  template <typename T>
  void take(const Key& key, T& value) {
    put(path(key), key.reload, value);
  }
  template <typename T>
  void put(const std::string& at, Reload reload, T& value) {
    if (reload != Reload::live) return;
    if constexpr (std::is_const_v<T>) {
      values_[at] = value;
    } else if (auto found = values_.find(at); found != values_.end()) {
      value = std::any_cast<const T&>(found->second);
    }
  }

  std::map<std::string, std::any> values_;
};

}  // namespace

void copy_live_keys(const Config& from, Config& to) {
  LiveValues values;
  visit_keys(values, from);
  visit_keys(values, to);
}

}  // namespace hbone::config

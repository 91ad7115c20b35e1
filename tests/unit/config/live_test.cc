// The live keys (keys.h: Reload::live) cannot be read from a Config except by the live
// snapshot's builder, the config's own visitors and checks (config::LiveRead): everything
// else reads them from the snapshot a reload swaps. The property is the compiler's; these
// tests fail when a live key is added without it.

#include "config/live.h"

#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/config_text.h"

namespace hbone::config {
namespace {

template <typename T>
struct IsLive : std::false_type {};
template <typename T>
struct IsLive<Live<T>> : std::true_type {};

// A read that does not hold a LiveRead: none of these compile.
template <typename T>
concept ReadableWithoutKey = requires(const Live<T>& value) { value.get({}); };
template <typename T>
concept ConvertsToItsValue = std::is_convertible_v<const Live<T>&, const T&>;

static_assert(!std::is_default_constructible_v<LiveRead>, "only LiveRead's friends make one");
static_assert(!ReadableWithoutKey<std::string>);
// The control: with a key in hand the same read compiles (what fails above is making one).
static_assert(requires(const Live<std::string>& value, LiveRead key) { value.get(key); });
static_assert(!ReadableWithoutKey<std::vector<ListenerConfig>>);
static_assert(!ConvertsToItsValue<std::string>);
static_assert(!ConvertsToItsValue<LimitsConfig>);

// Every Config member that holds live keys, by the key path it holds.
const std::vector<std::pair<std::string, bool>> kHolders = {
    {"tls.cert", IsLive<decltype(TlsConfig::cert)>::value},
    {"tls.key", IsLive<decltype(TlsConfig::key)>::value},
    {"tls.ca", IsLive<decltype(TlsConfig::ca)>::value},
    {"gateway.allowed_identities", IsLive<decltype(GatewayConfig::allowed_identities)>::value},
    {"gateway.trusted_forwarders", IsLive<decltype(GatewayConfig::trusted_forwarders)>::value},
    {"gateway.allowed_destinations", IsLive<decltype(GatewayConfig::allowed_destinations)>::value},
    {"gateway.policies", IsLive<decltype(GatewayConfig::policies)>::value},
    {"client.gateway_identity", IsLive<decltype(ClientConfig::gateway_identity)>::value},
    {"client.listeners", IsLive<decltype(ClientConfig::listeners)>::value},
    {"client.routes", IsLive<decltype(ClientConfig::routes)>::value},
    {"limits", IsLive<decltype(Config::limits)>::value},
};

TEST(Live, EveryLiveKeyIsHeldByAMemberOnlyTheSnapshotReads) {
  std::vector<std::string> keys = live_keys();
  ASSERT_GE(keys.size(), 20u);
  for (const std::string& key : keys) {
    const std::pair<std::string, bool>* holder = nullptr;
    for (const auto& entry : kHolders) {
      const std::string& path = entry.first;
      bool inside = key == path || key.rfind(path + ".", 0) == 0 || key.rfind(path + "[].", 0) == 0;
      if (inside) holder = &entry;
    }
    ASSERT_NE(holder, nullptr) << key << " is reloaded live, but no Live<> member of Config holds it: "
                               << "a worker could read its startup value";
    EXPECT_TRUE(holder->second) << holder->first << " holds live keys but is not a Live<>";
  }
}

TEST(Live, AValueIsWrittenLikeAPlainOne) {
  Config c;
  c.tls.cert = std::string("a.pem");
  c.limits = LimitsConfig{.max_tunnels = 3, .max_tunnels_per_identity = 0, .idle_timeout = {}, .buffer_memory = 0};
  Config copy = c;  // a Config copies whole (a reload's plan starts from the running one)
  EXPECT_EQ(dump_config(copy), dump_config(c));
  EXPECT_NE(dump_config(c).find("cert: a.pem"), std::string::npos);
}

}  // namespace
}  // namespace hbone::config

#include "config/config_loader.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include "support/live_reader.h"

using hbone::test::live;

using namespace hbone::config;

namespace {

// A config whose TLS files exist (the loader checks they are readable, not their contents).
class ConfigLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hbone-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (const char* name : {"cert.pem", "key.pem", "ca.pem"}) std::ofstream(dir_ / name) << "x";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string tls_block() const {
    return "tls:\n  cert: " + (dir_ / "cert.pem").string() + "\n  key: " +
           (dir_ / "key.pem").string() + "\n  ca: " + (dir_ / "ca.pem").string() + "\n";
  }
  std::string gateway_config(const std::string& extra = "") const {
    return tls_block() + "gateway:\n  listen: 127.0.0.1:15008\n" + extra;
  }

  // The single problem reported for `yaml`.
  std::string problem(const std::string& yaml) const {
    try {
      load_config_string(yaml, "t.yaml");
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.problems().size(), 1u) << e.what();
      return e.problems().front();
    }
    ADD_FAILURE() << "no error for:\n" << yaml;
    return "";
  }

  Config load(const std::string& yaml) const { return load_config_string(yaml, "t.yaml").config; }

  std::filesystem::path dir_;
};

}  // namespace

TEST_F(ConfigLoaderTest, DefaultsMatchTheContract) {
  Config c = load_config_string(gateway_config(), "t.yaml").config;
  EXPECT_EQ(c.workers, 1u);
  EXPECT_EQ(c.http2.stream_window, 4u << 20);
  EXPECT_EQ(c.http2.connection_window, 16u << 20);
  EXPECT_EQ(c.http2.max_frame_size, 1u << 20);
  EXPECT_EQ(c.http2.max_concurrent_streams, 200u);
  EXPECT_EQ(c.http2.streams_per_connection, 100u);
  EXPECT_EQ(c.socket.read_size, 1u << 20);
  ASSERT_TRUE(c.gateway);
  EXPECT_EQ(c.gateway->connect_timeout.count(), 10'000);
  EXPECT_EQ(c.tls.trust_domain, "cluster.local");
  EXPECT_FALSE(c.client);
  EXPECT_EQ(live(c.limits).max_tunnels, 0u);
  EXPECT_EQ(live(c.limits).idle_timeout.count(), 3'600'000);
}

TEST_F(ConfigLoaderTest, ParsesEveryKey) {
  std::string yaml = tls_block() + R"(
workers: 3
log_level: debug
drain_timeout: 5s
admin:
  listen: 127.0.0.1:15999
gateway:
  listen: "[::1]:15008"
  allowed_identities: [spiffe://cluster.local/ns/a/sa/b]
  allowed_destinations: [10.0.0.0/8, "db:5432"]
  connect_timeout: 250ms
client:
  gateway: gw.example:15008
  gateway_identity: spiffe://cluster.local/ns/default/sa/gateway
  connect_timeout: 3s
  max_tunnels_per_connection: 1000
  listeners:
    - listen: 127.0.0.1:15001
      target: 10.1.2.3:80
    - listen: 127.0.0.1:15002
      target: "[fd00::1]:443"
http2:
  stream_window: 1MiB
  connection_window: 8MiB
  max_frame_size: 16KiB
  max_concurrent_streams: 50
  streams_per_connection: 10
  keepalive_interval: 1s
  keepalive_timeout: 2s
socket:
  send_buffer: 4MiB
  recv_buffer: 2MiB
  read_size: 64KiB
limits:
  max_tunnels: 5000
  max_tunnels_per_identity: 100
  idle_timeout: 30m
)";
  LoadResult r = load_config_string(yaml, "t.yaml");
  const Config& c = r.config;
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.drain_timeout.count(), 5000);
  EXPECT_EQ(c.admin.listen.port, 15999);
  EXPECT_EQ(c.gateway->listen.host, "::1");
  EXPECT_EQ(live(c.gateway->allowed_destinations).entries().size(), 2u);
  EXPECT_EQ(c.gateway->connect_timeout.count(), 250);
  EXPECT_EQ(c.client->gateway.host, "gw.example");
  EXPECT_EQ(c.client->max_tunnels_per_connection, 1000u);
  ASSERT_EQ(live(c.client->listeners).size(), 2u);
  EXPECT_EQ(live(c.client->listeners)[1].target.to_string(), "[fd00::1]:443");
  EXPECT_EQ(c.http2.max_frame_size, 16384u);
  EXPECT_EQ(c.http2.keepalive_timeout.count(), 2000);
  EXPECT_EQ(c.socket.send_buffer, 4u << 20);
  EXPECT_EQ(c.socket.read_size, 64u << 10);
  EXPECT_EQ(live(c.limits).max_tunnels, 5000u);
  EXPECT_EQ(live(c.limits).max_tunnels_per_identity, 100u);
  EXPECT_EQ(live(c.limits).idle_timeout.count(), 1'800'000);
  // The dump parses back to the same values.
  LoadResult again = load_config_string(dump_config(c), "dump.yaml");
  EXPECT_EQ(dump_config(again.config), dump_config(c));
}

TEST_F(ConfigLoaderTest, UnknownKeyNamesKeyAndLine) {
  EXPECT_EQ(problem(gateway_config("http2:\n  stream_windw: 1MiB\n")),
            "t.yaml:8: http2.stream_windw: unknown key");
  EXPECT_EQ(problem(gateway_config("bogus: 1\n")), "t.yaml:7: bogus: unknown key");
}

TEST_F(ConfigLoaderTest, BadSizeNamesValue) {
  EXPECT_EQ(problem(gateway_config("http2:\n  stream_window: 4MB\n")),
            "t.yaml:8: http2.stream_window: bad size \"4MB\" (use B, KiB, MiB, GiB)");
}

TEST_F(ConfigLoaderTest, FrameSizeOutOfRange) {
  std::string p = problem(gateway_config("http2:\n  max_frame_size: 16MiB\n"));
  EXPECT_NE(p.find("t.yaml:8: http2.max_frame_size: size \"16MiB\" out of range"), std::string::npos) << p;
  p = problem(gateway_config("http2:\n  max_frame_size: 8KiB\n"));
  EXPECT_NE(p.find("http2.max_frame_size"), std::string::npos) << p;
}

TEST_F(ConfigLoaderTest, BadDuration) {
  EXPECT_EQ(problem(gateway_config("  connect_timeout: 10\n")),
            "t.yaml:7: gateway.connect_timeout: bad duration \"10\" (use ms, s, m)");
}

TEST_F(ConfigLoaderTest, LogLevelIsOneOfTheNamedLevels) {
  EXPECT_EQ(problem("log_level: loud\n" + gateway_config()),
            "t.yaml:1: log_level: \"loud\" is not one of trace, debug, info, warn, error, off");
}

TEST_F(ConfigLoaderTest, GatewayBalance) {
  EXPECT_EQ(problem(gateway_config("  balance: round_robin\n")),
            "t.yaml:7: gateway.balance: \"round_robin\" is not one of exact, kernel");
  EXPECT_FALSE(load_config_string(gateway_config("  balance: kernel\n"), "t.yaml").config.gateway->exact_balance);
  EXPECT_TRUE(load_config_string(gateway_config(), "t.yaml").config.gateway->exact_balance);  // default
}

TEST_F(ConfigLoaderTest, WindowOrderIsAWarning) {
  LoadResult r = load_config_string(
      gateway_config("http2:\n  stream_window: 16MiB\n  connection_window: 16MiB\n"), "t.yaml");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("t.yaml:8: http2.stream_window: stream window 16MiB >= "
                               "connection window 16MiB"),
            std::string::npos)
      << r.warnings[0];
}

TEST_F(ConfigLoaderTest, MissingCertFile) {
  std::string yaml = "tls:\n  cert: /nonexistent/cert.pem\n  key: " + (dir_ / "key.pem").string() +
                     "\n  ca: " + (dir_ / "ca.pem").string() + "\ngateway: {}\n";
  EXPECT_EQ(problem(yaml),
            "t.yaml:2: tls.cert: cannot read file \"/nonexistent/cert.pem\" (missing or no "
            "permission)");
}

TEST_F(ConfigLoaderTest, TlsRequiredForRoles) {
  EXPECT_EQ(problem("gateway:\n  listen: 127.0.0.1:1\n"),
            "t.yaml: tls: required when client or gateway is configured");
}

TEST_F(ConfigLoaderTest, NothingToRun) {
  EXPECT_EQ(problem(tls_block()),
            "t.yaml:1: client/gateway: nothing to run: configure client, gateway, node or several");
}

TEST_F(ConfigLoaderTest, BadAddresses) {
  EXPECT_EQ(problem(tls_block() + "gateway:\n  listen: 127.0.0.1\n"),
            "t.yaml:6: gateway.listen: bad address \"127.0.0.1\": missing port");
  EXPECT_EQ(problem(tls_block() + "gateway:\n  listen: localhost:80\n"),
            "t.yaml:6: gateway.listen: listen address \"localhost:80\" must be an IP literal");
  std::string p = problem(tls_block() +
                          "client:\n  listeners:\n    - listen: 127.0.0.1:1\n      target: x:0\n");
  EXPECT_NE(p.find("t.yaml:8: client.listeners[0].target: bad address \"x:0\""), std::string::npos)
      << p;
}

TEST_F(ConfigLoaderTest, ClientNeedsListenersOrCapture) {
  EXPECT_EQ(problem(tls_block() + "client:\n  gateway: 127.0.0.1:15008\n"),
            "t.yaml:6: client.listeners: required unless client.capture is set (the client has nothing to accept)");
  EXPECT_EQ(problem(tls_block() + "client:\n  listeners: []\n"),
            "t.yaml:6: client.listeners: expected a non-empty list of {listen, target}");
}

TEST_F(ConfigLoaderTest, CaptureAndRoutes) {
  Config c = load(tls_block() + R"(client:
  capture: {listen: 127.0.0.1:15001, mode: tproxy}
  routes:
    - {cidr: 198.18.0.0/24, ports: [80, 8080], gateway: destination:15008, identity: spiffe://cluster.local/ns/b/sa/b}
    - {cidr: 0.0.0.0/0, gateway: egress.mesh:15008}
    - {cidr: "fd00::/16", gateway: direct}
    - {cidr: 198.19.0.0/16, gateway: destination:15008, via: eastwest.mesh:15008, via_identity: spiffe://cluster.local/ns/e/sa/e}
socket:
  mark: 0x539
)");
  ASSERT_TRUE(c.client->capture);
  EXPECT_TRUE(c.client->capture->tproxy);
  ASSERT_EQ(live(c.client->routes).size(), 4u);
  EXPECT_EQ(live(c.client->routes)[3].describe(), "198.19.0.0/16 via destination:15008 through eastwest.mesh:15008");
  EXPECT_EQ(live(c.client->routes)[3].through_identity, "spiffe://cluster.local/ns/e/sa/e");
  EXPECT_FALSE(live(c.client->routes)[0].through);
  EXPECT_EQ(live(c.client->routes)[0].describe(), "198.18.0.0/24:80,8080 via destination:15008");
  EXPECT_EQ(live(c.client->routes)[0].identity, "spiffe://cluster.local/ns/b/sa/b");
  EXPECT_EQ(live(c.client->routes)[1].via.kind, hbone::address::RouteVia::Kind::gateway);
  EXPECT_EQ(live(c.client->routes)[1].via.gateway.to_string(), "egress.mesh:15008");
  EXPECT_EQ(live(c.client->routes)[2].describe(), "fd00::/16 via direct");
  EXPECT_EQ(c.socket.mark, 0x539u);
  // The dump reads back to the same routes.
  Config again = load(dump_config(c));
  EXPECT_EQ(dump_config(again), dump_config(c));
}

TEST_F(ConfigLoaderTest, BadRoutes) {
  std::string routes = tls_block() + "client:\n  capture: {}\n  routes:\n";
  EXPECT_EQ(problem(routes + "    - {cidr: 10.0.0.0/33, gateway: direct}\n"),
            "t.yaml:8: client.routes[0].cidr: bad CIDR \"10.0.0.0/33\" (e.g. 10.0.0.0/8, fd00::/16)");
  EXPECT_EQ(problem(routes + "    - {cidr: 10.0.0.0/8, gateway: \"destination:0\"}\n"),
            "t.yaml:8: client.routes[0].gateway: bad route \"destination:0\": destination:PORT needs a port 1..65535");
  EXPECT_EQ(problem(routes + "    - {cidr: 10.0.0.0/8}\n"), "t.yaml:8: client.routes[0].gateway: required");
  EXPECT_EQ(problem(routes + "    - {cidr: 10.0.0.0/8, gateway: direct, ports: [0]}\n"),
            "t.yaml:8: client.routes[0].ports: bad port \"0\" (1..65535)");
  EXPECT_EQ(problem(routes + "    - {cidr: 10.0.0.0/8, gateway: direct, via: 10.0.0.1:15008}\n"),
            "t.yaml:8: client.routes[0].via: a direct route has no gateway to reach through another");
  EXPECT_EQ(problem(routes + "    - {cidr: 10.0.0.0/8, gateway: direct, via_identity: spiffe://a/b}\n"),
            "t.yaml:8: client.routes[0].via_identity: set without via");
  EXPECT_EQ(problem(tls_block() + "client:\n  capture: {}\n"),
            "t.yaml:6: client.routes: required with client.capture unless xds is set (every captured connection "
            "would be reset)");
  EXPECT_EQ(problem(tls_block() + "socket:\n  mark: 0xfffffffff\n" + "client:\n  capture: {}\n  routes: [{cidr: 0.0.0.0/0, gateway: direct}]\n"),
            "t.yaml:6: socket.mark: bad value \"0xfffffffff\", want an integer 0 .. 4294967295");
}

TEST_F(ConfigLoaderTest, BadIdentitiesAndDestinations) {
  EXPECT_NE(problem(gateway_config("  allowed_identities: [\"http://x/y\"]\n"))
                .find("gateway.allowed_identities: \"http://x/y\" is not a SPIFFE id"),
            std::string::npos);
  EXPECT_NE(problem(gateway_config("  allowed_destinations: [\"10.0.0.0/33\"]\n"))
                .find("gateway.allowed_destinations: \"10.0.0.0/33\" is not a valid CIDR"),
            std::string::npos);
}

TEST_F(ConfigLoaderTest, AutoStreamWindow) {
  Config c = load_config_string(gateway_config("http2:\n  stream_window: auto\n  max_window: 8MiB\n"),
                                "t.yaml").config;
  EXPECT_TRUE(c.http2.auto_window);
  EXPECT_EQ(c.http2.stream_window, Http2Config::kAutoInitialWindow);
  EXPECT_EQ(c.http2.max_window, 8u << 20);
  Config again = load_config_string(dump_config(c), "dump.yaml").config;
  EXPECT_TRUE(again.http2.auto_window);
  EXPECT_EQ(problem(gateway_config("http2:\n  stream_window: automatic\n")),
            "t.yaml:8: http2.stream_window: bad size \"automatic\" (use B, KiB, MiB, GiB)");
}

TEST_F(ConfigLoaderTest, BadLimit) {
  EXPECT_EQ(problem(gateway_config("limits:\n  max_tunnels: -1\n")),
            "t.yaml:8: limits.max_tunnels: bad value \"-1\", want an integer 0 .. 16777216");
}

// Both found by tests/fuzz/config_fuzz: they used to escape as yaml-cpp exceptions.
TEST_F(ConfigLoaderTest, NullKeyIsAnError) {
  EXPECT_EQ(problem(gateway_config("? \n: x\n")), "t.yaml:8: ?: keys must be plain strings");
}

TEST_F(ConfigLoaderTest, ScalarTlsSectionIsAnError) {
  EXPECT_EQ(problem("tls: plain\ngateway: {}\n"), "t.yaml:1: tls: expected a mapping of keys");
}

TEST_F(ConfigLoaderTest, WorkersRange) {
  EXPECT_EQ(problem(gateway_config("workers: 0\n")),
            "t.yaml:7: workers: bad value \"0\", want an integer 1 .. 256");
}

TEST_F(ConfigLoaderTest, CpuAffinity) {
  EXPECT_TRUE(load(gateway_config("")).cpu_affinity.empty());
  Config c = load(gateway_config("cpu_affinity: [1, 0]\n"));
  EXPECT_EQ(c.cpu_affinity, (std::vector<unsigned>{1, 0}));
  EXPECT_NE(dump_config(c).find("cpu_affinity"), std::string::npos);
  EXPECT_EQ(dump_config(load(dump_config(c))), dump_config(c));
  EXPECT_EQ(problem(gateway_config("cpu_affinity: [0, two]\n")),
            "t.yaml:7: cpu_affinity: bad CPU \"two\" (0..1023)");
  EXPECT_EQ(problem(gateway_config("cpu_affinity: [-1]\n")),
            "t.yaml:7: cpu_affinity: bad CPU \"-1\" (0..1023)");
  EXPECT_EQ(problem(gateway_config("cpu_affinity: [1024]\n")),
            "t.yaml:7: cpu_affinity: bad CPU \"1024\" (0..1023)");
}

TEST_F(ConfigLoaderTest, ReportsEveryProblemAtOnce) {
  try {
    load_config_string(gateway_config("workers: x\nhttp2:\n  max_frame_size: 1GiB\nfoo: 1\n"),
                       "t.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.problems().size(), 3u) << e.what();
  }
}

TEST_F(ConfigLoaderTest, YamlSyntaxError) {
  try {
    load_config_string("http2:\n  a: [1,\n", "t.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("t.yaml:"), std::string::npos);
  }
}

TEST_F(ConfigLoaderTest, MissingFile) {
  EXPECT_THROW(load_config_file("/nonexistent/hbone.yaml"), ConfigError);
}

TEST_F(ConfigLoaderTest, ReloadAppliesLiveKeysAndNamesTheOthers) {
  Config running = load_config_string(gateway_config("  allowed_identities: [spiffe://cluster.local/ns/a/sa/b]\n"),
                                      "t.yaml").config;
  Config loaded = load_config_string(
      gateway_config("  allowed_identities: [spiffe://cluster.local/ns/c/sa/d]\n"
                     "  allowed_destinations: [10.0.0.0/8]\n  connect_timeout: 3s\nworkers: 4\n"),
      "t.yaml").config;
  ReloadPlan plan = plan_reload(running, loaded);
  // Live: the allow-lists are the new file's.
  ASSERT_TRUE(plan.effective.gateway);
  EXPECT_EQ(live(plan.effective.gateway->allowed_identities),
            std::vector<std::string>{"spiffe://cluster.local/ns/c/sa/d"});
  EXPECT_EQ(live(plan.effective.gateway->allowed_destinations).entries(), std::vector<std::string>{"10.0.0.0/8"});
  // Restart: kept as started, and named.
  EXPECT_EQ(plan.effective.workers, 1u);
  EXPECT_EQ(plan.effective.gateway->connect_timeout.count(), 10'000);
  EXPECT_EQ(plan.restart_keys, (std::vector<std::string>{"workers", "gateway.connect_timeout"}));
  // An unchanged file needs nothing.
  EXPECT_TRUE(plan_reload(running, running).restart_keys.empty());
}

// Every key, both roles, each value `variant`'s own: two of them differ in every key.
std::string every_key(const std::filesystem::path& dir, int variant) {
  std::string v = std::to_string(variant), port = std::to_string(1000 + variant);
  for (const char* name : {"cert", "key", "ca"}) std::ofstream(dir / (name + v + ".pem")) << "x";
  auto file = [&](const char* name) { return (dir / (name + v + ".pem")).string(); };
  return "workers: " + v + "\nlog_level: " + (variant == 1 ? "info" : "debug") +
         "\ntls:\n  cert: " + file("cert") + "\n  key: " + file("key") + "\n  ca: " + file("ca") +
         "\n  handshake_timeout: " + v + "s\n"
         "gateway:\n  listen: 127.0.0.1:" + port + "\n"
         "  allowed_identities: [spiffe://td/ns/a/sa/" + v + "]\n"
         "  allowed_destinations: [10.0.0." + v + "/32]\n"
         "  trusted_forwarders: [spiffe://td/ns/w/sa/" + v + "]\n"
         "  connect_timeout: " + v + "s\n"
         "  policies:\n    - name: p" + v + "\n      action: " + (variant == 1 ? "ALLOW" : "DENY") +
         "\n      rules:\n        - from: {principals: [a" + v + "], namespaces: [n" + v + "], ip_blocks: [10.1.0." + v +
         "]}\n          to: {hosts: [h" + v + "], cidrs: [10.2.0." + v + "], ports: [" + port + "]}\n"
         "client:\n  gateway: 127.0.0.1:" + port + "\n  gateway_identity: spiffe://td/ns/g/sa/" + v + "\n"
         "  listeners:\n    - {listen: 127.0.0.2:" + port + ", target: 127.0.0.1:" + port + "}\n"
         "  capture: {listen: 127.0.0.3:" + port + "}\n"
         "  routes:\n    - {cidr: 10.3.0." + v + "/32, ports: [" + port + "], gateway: 127.0.0.1:" + port +
         ", identity: spiffe://td/ns/r/sa/" + v + ", via: 127.0.0.1:" + port + ", via_identity: spiffe://td/ns/e/sa/" +
         v + "}\n"
         "limits:\n  max_tunnels: " + v + "\n  max_tunnels_per_identity: " + v + "\n  idle_timeout: " + v +
         "s\n  buffer_memory: " + v + "MiB\n";
}

// A key path with its list indexes taken out, as live_keys() names them.
std::string without_indexes(std::string path) {
  for (size_t open = path.find('['); open != std::string::npos; open = path.find('[', open + 1)) {
    path.erase(open + 1, path.find(']', open) - open - 1);
  }
  return path;
}

TEST_F(ConfigLoaderTest, ReloadTakesEveryLiveKeyAndNoOther) {
  Config running = load(every_key(dir_, 1)), loaded = load(every_key(dir_, 2));
  ReloadPlan plan = plan_reload(running, loaded);
  std::map<std::string, std::string> before, after;
  for (const auto& entry : flatten(running)) before[entry.path] = entry.value;
  for (const auto& entry : flatten(loaded)) after[entry.path] = entry.value;
  for (const auto& entry : flatten(plan.effective)) {
    const auto& expected = entry.reload == Reload::live ? after : before;
    EXPECT_EQ(entry.value, expected.at(entry.path)) << entry.path;
  }
  // The two files differ in every live key (a list in a key of its items): none is left untested.
  std::set<std::string> differing;
  for (const auto& [path, value] : after) {
    if (before[path] == value) continue;
    std::string key = without_indexes(path);
    differing.insert(key);
    for (size_t list = key.find('['); list != std::string::npos; list = key.find('[', list + 1)) {
      differing.insert(key.substr(0, list));
    }
  }
  for (const auto& key : live_keys()) EXPECT_TRUE(differing.count(key)) << key << " is the same in both files";
  EXPECT_FALSE(plan.restart_keys.empty());
}

TEST_F(ConfigLoaderTest, ReloadAddingARoleNeedsARestart) {
  Config running = load_config_string(gateway_config(), "t.yaml").config;
  Config loaded = load_config_string(
      gateway_config("client:\n  gateway_identity: spiffe://cluster.local/ns/x/sa/y\n  listeners:\n"
                     "    - {listen: 127.0.0.1:1, target: 127.0.0.1:2}\n"),
      "t.yaml").config;
  ReloadPlan plan = plan_reload(running, loaded);
  EXPECT_FALSE(plan.effective.client);
  ASSERT_FALSE(plan.restart_keys.empty());
  EXPECT_EQ(plan.restart_keys.front(), "client");
}

TEST_F(ConfigLoaderTest, KeyTableListsEveryKeyWithItsDefault) {
  std::string table = key_table();
  EXPECT_NE(table.find("| `http2.stream_window` | 4MiB | restart |"), std::string::npos) << table;
  EXPECT_NE(table.find("| `gateway.allowed_identities` | [] | live |"), std::string::npos) << table;
  EXPECT_NE(table.find("| `client.listeners[].target` | required |"), std::string::npos) << table;
}

// Found by tests/fuzz/config_fuzz: the cross-key checks subscripted a scalar document.
TEST_F(ConfigLoaderTest, ScalarDocumentIsAnError) {
  try {
    load_config_string("1\n", "t.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.problems().front(), "t.yaml:1: (top level): expected a mapping of keys");
  }
}

TEST_F(ConfigLoaderTest, MetricsListenIsOptionalAndTakesIpv6) {
  EXPECT_FALSE(load(gateway_config()).admin.metrics_listen);
  EXPECT_FALSE(load(gateway_config("admin:\n  metrics_listen: \"\"\n")).admin.metrics_listen);
  Config c = load(gateway_config("admin:\n  listen: \"[::1]:15000\"\n  metrics_listen: \"[::]:15020\"\n"));
  EXPECT_EQ(c.admin.listen.host, "::1");
  ASSERT_TRUE(c.admin.metrics_listen);
  EXPECT_EQ(c.admin.metrics_listen->to_string(), "[::]:15020");
  // Dumped and read back the same (the reload compares dumps).
  EXPECT_EQ(load(dump_config(c)).admin.metrics_listen->to_string(), "[::]:15020");
  EXPECT_NE(problem(gateway_config("admin:\n  metrics_listen: example.com:15020\n")).find("must be an IP literal"),
            std::string::npos);
}

TEST_F(ConfigLoaderTest, GatewayInboundKeys) {
  Config c = load(gateway_config("  transparent: true\n  require_arrived_address: true\n"));
  EXPECT_TRUE(c.gateway->transparent);
  EXPECT_TRUE(c.gateway->require_arrived_address);
  EXPECT_FALSE(load(gateway_config()).gateway->require_arrived_address);
}

TEST_F(ConfigLoaderTest, ListenersNeedAddressesOfTheirOwn) {
  // Named with its key and line, and the key it collides with.
  EXPECT_EQ(problem(gateway_config("admin:\n  listen: 127.0.0.1:15008\n")),
            "t.yaml:6: gateway.listen: 127.0.0.1:15008 overlaps admin.listen (127.0.0.1:15008): each listener "
            "needs an address of its own");
  EXPECT_NE(problem(gateway_config("admin:\n  metrics_listen: 0.0.0.0:15000\n")).find("admin.metrics_listen"),
            std::string::npos);
  EXPECT_NE(problem(gateway_config("client:\n  listeners:\n    - {listen: \"[::]:15008\", target: a:1}\n"))
                .find("client.listeners[0].listen: [::]:15008 overlaps"),
            std::string::npos);
  // Another port, another address on the same port, or port 0: fine.
  load(gateway_config("admin:\n  listen: 127.0.0.1:15009\n  metrics_listen: 127.0.0.2:15009\n"));
  load(gateway_config("admin:\n  listen: 127.0.0.1:0\n  metrics_listen: 127.0.0.1:0\n"));
}

TEST_F(ConfigLoaderTest, Policies) {
  Config c = load(gateway_config(
      "  policies:\n"
      "    - name: no-other\n      action: DENY\n      rules:\n"
      "        - from: {principals: [\"spiffe://cluster.local/ns/default/sa/other\"]}\n"
      "    - name: payments\n      rules:\n"
      "        - from: {namespaces: [payments], ip_blocks: [198.18.0.0/16, 198.18.9.9, \"fd00::1\"]}\n"
      "          to: {hosts: [\"*.example.com\"], cidrs: [198.18.1.0/24], ports: [443, 8443]}\n"
      "    - name: nothing\n"));
  ASSERT_TRUE(c.gateway);
  const auto& p = live(c.gateway->policies);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_TRUE(p[0].deny);
  EXPECT_EQ(p[0].rules.at(0).from.principals, std::vector<std::string>{"spiffe://cluster.local/ns/default/sa/other"});
  EXPECT_FALSE(p[1].deny);  // ALLOW is the default action, as in Istio
  const auto& rule = p[1].rules.at(0);
  EXPECT_EQ(rule.from.namespaces, std::vector<std::string>{"payments"});
  ASSERT_EQ(rule.from.ip_blocks.size(), 3u);
  EXPECT_EQ(rule.from.ip_blocks[1].to_string(), "198.18.9.9/32");  // a bare address is one host
  EXPECT_EQ(rule.from.ip_blocks[2].to_string(), "fd00::1/128");
  EXPECT_EQ(rule.to.hosts, std::vector<std::string>{"*.example.com"});
  EXPECT_EQ(rule.to.ports, (std::vector<uint16_t>{443, 8443}));
  EXPECT_TRUE(p[2].rules.empty());  // matches nothing

  // What /config_dump writes reads back the same.
  Config again = load(dump_config(c));
  ASSERT_TRUE(again.gateway);
  EXPECT_EQ(dump_config(again), dump_config(c));
}

TEST_F(ConfigLoaderTest, BadPolicies) {
  EXPECT_EQ(problem(gateway_config("  policies:\n    - action: DENY\n")),
            "t.yaml:8: gateway.policies[0].name: required (the log and metrics name the policy that decided)");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - {name: a}\n    - {name: a}\n")),
            "t.yaml:9: gateway.policies[1].name: a second policy named \"a\"");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - {name: a, action: deny}\n")),
            "t.yaml:8: gateway.policies[0].action: \"deny\" is not one of DENY, ALLOW");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - from: {principals: [\"a*b\"]}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].from.principals: bad pattern \"a*b\" (exact, *, prefix* or *suffix)");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - to: {cidrs: [10.0.0.0/33]}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].to.cidrs: bad CIDR \"10.0.0.0/33\" (e.g. 198.18.0.0/15, 198.18.0.1, "
            "fd00::/16)");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - to: {ports: [0]}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].to.ports: bad port \"0\" (1..65535)");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - from: {principal: [x]}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].from.principal: unknown key");
  // Empty lists and empty parts would match anything (Istio rejects both).
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - from: {principals: []}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].from.principals: empty: it would match anything (Istio rejects "
            "it); list entries, or leave the field out");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - to: {hosts: [x], ports: []}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].to.ports: empty: it would match anything (Istio rejects it); "
            "list entries, or leave the field out");
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - from: {}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].from: empty: name at least one field, or leave it out (a rule "
            "without it matches any)");
  // A v4-mapped block is read as the IPv4 one; one wider than the mapped range is refused.
  EXPECT_EQ(problem(gateway_config("  policies:\n    - name: a\n      rules:\n        - from: {ip_blocks: [\"::ffff:0:0/64\"]}\n")),
            "t.yaml:10: gateway.policies[0].rules[0].from.ip_blocks: bad CIDR \"::ffff:0:0/64\" (e.g. 198.18.0.0/15, "
            "198.18.0.1, fd00::/16)");
  Config mapped = load(gateway_config("  policies:\n    - name: a\n      rules:\n        - from: {ip_blocks: [\"::ffff:10.0.0.0/104\"]}\n"));
  EXPECT_EQ(live(mapped.gateway->policies)[0].rules[0].from.ip_blocks[0].to_string(), "10.0.0.0/8");
}

TEST_F(ConfigLoaderTest, ReloadReplacesPolicies) {
  Config running = load(gateway_config("  policies:\n    - {name: a, action: DENY, rules: [{}]}\n"));
  Config loaded = load(gateway_config("  policies:\n    - {name: b, rules: [{to: {ports: [443]}}]}\n"));
  ReloadPlan plan = plan_reload(running, loaded);
  EXPECT_TRUE(plan.restart_keys.empty());
  ASSERT_EQ(live(plan.effective.gateway->policies).size(), 1u);
  EXPECT_EQ(live(plan.effective.gateway->policies)[0].name, "b");
  EXPECT_EQ(live(plan.effective.gateway->policies)[0].rules.at(0).to.ports, std::vector<uint16_t>{443});
  // A file without policies removes them.
  EXPECT_TRUE(live(plan_reload(running, load(gateway_config())).effective.gateway->policies).empty());
}

namespace hbone::config {
namespace {

// With a certificate from istiod's CA the files are neither needed nor allowed, and istiod
// (xds) must be configured.
TEST_F(ConfigLoaderTest, IstioCaReplacesTheCertificateFiles) {
  std::string xds = "xds:\n  address: 127.0.0.1:15012\n  root_ca: " + (dir_ / "ca.pem").string() + "\n";
  std::string gateway = "gateway:\n  listen: 127.0.0.1:15008\n";
  Config c = load(gateway + xds + "identity:\n  provider: istio_ca\n  service_account: cart\n  cert_ttl: 2m\n");
  EXPECT_TRUE(c.identity.istio_ca());
  EXPECT_EQ(c.identity.service_account, "cart");
  EXPECT_EQ(c.identity.cert_ttl, std::chrono::minutes(2));
  EXPECT_FALSE(c.identity.ca_address);
  EXPECT_EQ(problem(gateway + "identity:\n  provider: istio_ca\n"),
            "t.yaml:4: identity.provider: istio_ca needs xds (istiod's root, name and token)");
  EXPECT_EQ(problem("tls:\n  cert: " + (dir_ / "cert.pem").string() + "\n" + gateway + xds +
                    "identity:\n  provider: istio_ca\n"),
            "t.yaml:2: tls.cert: set with identity.provider: istio_ca (the provider's certificate is used)");
  EXPECT_EQ(problem(tls_block() + gateway + xds + "identity:\n  provider: vault\n"),
            "t.yaml:11: identity.provider: \"vault\" is not one of files, istio_ca, spiffe_workload_api");
  EXPECT_EQ(problem(gateway), "t.yaml: tls: required when client or gateway is configured");
}

// The SPIFFE Workload API needs no files and no istiod: only the agent's socket, from the
// config or the SPIFFE_ENDPOINT_SOCKET the standard names, as a path or a unix: URI.
TEST_F(ConfigLoaderTest, WorkloadApiTakesItsSocketFromTheConfigOrTheEnvironment) {
  std::string gateway = "gateway:\n  listen: 127.0.0.1:15008\n";
  std::string spire = "identity:\n  provider: spiffe_workload_api\n";
  ::unsetenv("SPIFFE_ENDPOINT_SOCKET");
  EXPECT_EQ(problem(gateway + spire),
            "t.yaml:4: identity.spiffe_socket: no Workload API socket: set identity.spiffe_socket or "
            "SPIFFE_ENDPOINT_SOCKET");
  Config c = load(gateway + spire + "  spiffe_socket: unix:///run/spire/agent.sock\n");
  EXPECT_TRUE(c.identity.workload_api());
  std::string why;
  EXPECT_EQ(workload_api_socket(c.identity, why), "/run/spire/agent.sock");
  EXPECT_EQ(problem(gateway + spire + "  spiffe_socket: tcp://127.0.0.1:8081\n"),
            "t.yaml:5: identity.spiffe_socket: identity.spiffe_socket \"tcp://127.0.0.1:8081\": only a unix socket "
            "(a path or unix:///path) is supported");
  ::setenv("SPIFFE_ENDPOINT_SOCKET", "unix:/tmp/agent.sock", 1);
  EXPECT_EQ(workload_api_socket(load(gateway + spire).identity, why), "/tmp/agent.sock");
  EXPECT_EQ(problem(gateway + spire + "  spiffe_socket: /" + std::string(107, 'a') + "\n"),
            "t.yaml:5: identity.spiffe_socket: identity.spiffe_socket \"/" + std::string(107, 'a') +
                "\": longer than a unix socket's name may be (107 bytes)");
  ::setenv("SPIFFE_ENDPOINT_SOCKET", "agent.sock", 1);
  EXPECT_EQ(problem(gateway + spire),
            "t.yaml:4: identity.spiffe_socket: SPIFFE_ENDPOINT_SOCKET \"agent.sock\": not an absolute path");
  ::unsetenv("SPIFFE_ENDPOINT_SOCKET");
  EXPECT_EQ(problem(gateway + spire + "  spiffe_socket: /a.sock\ntls:\n  plaintext_h2c: true\n"),
            "t.yaml:4: identity.provider: spiffe_workload_api with tls.plaintext_h2c: no TLS to use it");
}

// A node proxy is a role of its own; its pods' certificates come from istiod's CA.
TEST_F(ConfigLoaderTest, ANodeNeedsIstiodAndItsCa) {
  std::string xds = "xds:\n  address: 127.0.0.1:15012\n  root_ca: " + (dir_ / "ca.pem").string() + "\n";
  std::string ca = "identity:\n  provider: istio_ca\n";
  Config c = load("node: {}\n" + xds + ca);
  ASSERT_TRUE(c.node);
  EXPECT_EQ(c.node->zds_socket, "/var/run/ztunnel/ztunnel.sock");
  EXPECT_FALSE(c.gateway || c.client);
  EXPECT_EQ(load("node:\n  zds_socket: /run/cni/zds.sock\n" + xds + ca).node->zds_socket, "/run/cni/zds.sock");
  EXPECT_EQ(problem("node: {}\n" + xds),
            "t.yaml:1: node: needs identity.provider: istio_ca (each pod's certificate)");
  EXPECT_EQ(problem("node:\n  zds_socket: \"\"\n" + xds + ca), "t.yaml:2: node.zds_socket: required");
}

}  // namespace
}  // namespace hbone::config

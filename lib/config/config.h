#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>
#include <optional>

#include "address/destination_policy.h"
#include "address/host_port.h"
#include "address/route.h"
#include "config/live.h"
#include "net/socket_options.h"
#include "policy/authorization.h"

namespace hbone::config {

using std::chrono::milliseconds;

struct AdminConfig {
  address::HostPort listen{"127.0.0.1", 15000};      // everything: keep it inside the pod
  std::optional<address::HostPort> metrics_listen;  // GET /metrics and /healthz/ready only
};

// Members of type Live<T> are the keys a reload applies (keys.h: Reload::live): they are
// read from the live snapshot (tunnel::PeerPolicy), never from here (see live.h).

struct TlsConfig {
  Live<std::string> cert;
  Live<std::string> key;
  Live<std::string> ca;
  std::string trust_domain = "cluster.local";
  bool watch = true;  // reload cert/key/ca when their files change (Kubernetes' ..data swap)
  milliseconds handshake_timeout{10'000};  // connect-to-HTTP/2-ready deadline
  // HTTP/2 over plain TCP (h2c), no TLS and no identities: for benchmarks and fuzzing only.
  bool plaintext_h2c = false;
  // Who protects records after the handshake: hbone's own record layer (BoringSSL builds)
  // or the library's SSL_read/SSL_write.
  bool own_record_layer = true;
};

struct LogConfig {
  bool json = false;  // log.format: json (one JSON object a line) or text
};

struct GatewayConfig {
  address::HostPort listen{"127.0.0.1", 15008};
  Live<std::vector<std::string>> allowed_identities;  // SPIFFE ids; empty: any in the trust domain
  Live<std::vector<std::string>> trusted_forwarders;  // SPIFFE ids whose Forwarded header names the source
  Live<address::DestinationPolicy> allowed_destinations;  // CIDRs or host:port; empty: any
  milliseconds connect_timeout{10'000};
  // With several workers: place each accepted connection on the worker with the fewest
  // (true, "exact") or where the kernel's SO_REUSEPORT hash puts it (false, "kernel").
  bool exact_balance = true;
  // Send a PROXY protocol v2 header (client address, peer SPIFFE id) to each target.
  bool proxy_protocol_v2 = false;
  // The CONNECT target's IP must be the local address the connection arrived on, else 400
  // (ztunnel's inbound rule: a node or pod gateway relays only to where it was reached).
  bool require_arrived_address = false;
  // IP_TRANSPARENT listener: accepts connections addressed to any IP (node-level TPROXY
  // of the node's pods' port 15008, scripts/capture.sh node-install).
  bool transparent = false;
  // L4 authorization (Istio's AuthorizationPolicy), after the allow-lists.
  Live<std::vector<policy::AuthorizationPolicy>> policies;
};

struct ListenerConfig {
  address::HostPort listen;
  address::HostPort target;
};

// Redirected (iptables REDIRECT, target from SO_ORIGINAL_DST) or transparently proxied
// (TPROXY, target = the accepted socket's local address) outbound connections.
struct CaptureConfig {
  address::HostPort listen{"127.0.0.1", 15001};
  bool tproxy = false;
};

struct ClientConfig {
  address::HostPort gateway{"127.0.0.1", 15008};
  Live<std::string> gateway_identity;  // empty: any identity in the trust domain
  Live<std::vector<ListenerConfig>> listeners;
  std::optional<CaptureConfig> capture;
  Live<std::vector<address::Route>> routes;  // for captured connections; first match wins
  milliseconds pool_idle_timeout{300'000};  // a pooled connection without streams this long: GOAWAY
  uint32_t max_tunnels_per_connection = 0;  // then the connection drains; 0: no limit
  milliseconds connect_timeout{10'000};
};

struct Http2Config {
  // With auto_window (stream_window: auto) the windows start at kAutoInitialWindow and grow
  // with the measured bandwidth-delay product up to max_window.
  static constexpr uint32_t kAutoInitialWindow = 256u << 10;
  bool auto_window = false;
  uint32_t max_window = 16u << 20;
  uint32_t stream_window = 4u << 20;
  uint32_t connection_window = 16u << 20;
  // While two streams of a connection receive DATA, each stream's receive window is at
  // most this (head-of-line: what one stream may queue ahead of another); 0: off.
  uint32_t shared_stream_window = 0;
  uint32_t max_frame_size = 1u << 20;
  uint32_t max_concurrent_streams = 200;
  uint32_t streams_per_connection = 100;
  uint32_t max_header_list_size = 16u << 10;  // request headers beyond this get 431
  milliseconds keepalive_interval{10'000};
  milliseconds keepalive_timeout{20'000};
};

// The socket options proper (net::SocketOptions: buffers; on HBONE connections
// TCP_NOTSENT_LOWAT, which also bounds hbone's own queue in front of them, keepalive as
// ztunnel's 180s/180s/9 so a dead peer behind a NAT is found without traffic, and
// TCP_USER_TIMEOUT), plus what hbone itself does with sockets.
struct SocketConfig : net::SocketOptions {
  uint32_t read_size = 1u << 20;  // measured best for bulk tunnels (perf/RESULTS.md)
  uint32_t mark = 0x539;  // SO_MARK on sockets hbone opens, so capture rules skip them (ztunnel's)
};

struct LimitsConfig {
  uint32_t max_tunnels = 0;               // per process, both roles; 0: no limit
  uint32_t max_tunnels_per_identity = 0;  // gateway, per peer SPIFFE id; 0: no limit
  milliseconds idle_timeout{3'600'000};   // no byte either way for this long: closed; 0: never
  uint64_t buffer_memory = 256ull << 20;  // bytes all tunnels may hold in user space; 0: no budget
};

// Istio's control plane: delta ADS as ztunnel speaks it to istiod (workloads, services,
// authorization policies). Absent: only what this file says.
struct XdsConfig {
  std::string root_ca;  // PEM bundle that signs istiod's serving certificate
  std::string istiod_san = "istiod.istio-system.svc";
  std::string token_file = "/var/run/secrets/tokens/istio-token";
  std::string cluster_id = "Kubernetes";
  std::string network;  // this node's network (ztunnel's NETWORK): addresses are looked up on it
  // Last: GCC 12 at -O3 reports a member before a throwing string initializer as maybe
  // uninitialized in the aggregate's unwinding path (config_text.cc's Documenter).
  address::HostPort address;  // required
};

// Where the process's own certificate comes from: tls.cert/key/ca (files), a CSR to
// istiod's CA (istio_ca) for spiffe://<tls.trust_domain>/ns/<namespace>/sa/<service_account>,
// or the SPIFFE Workload API of a local agent such as SPIRE's (spiffe_workload_api).
struct IdentityConfig {
  std::string provider = "files";  // files | istio_ca | spiffe_workload_api
  std::optional<address::HostPort> ca_address;  // istio_ca: none = xds.address
  std::string namespace_name = "default";
  std::string service_account = "default";
  milliseconds cert_ttl{86'400'000};  // the lifetime asked for (the CA may grant less)
  // spiffe_workload_api: the agent's socket, a path or a unix: URI; "": SPIFFE_ENDPOINT_SOCKET.
  std::string spiffe_socket;

  bool files() const { return provider == "files"; }
  bool istio_ca() const { return provider == "istio_ca"; }
  bool workload_api() const { return provider == "spiffe_workload_api"; }
};

// The Workload API socket's path: identity.spiffe_socket, else the SPIFFE_ENDPOINT_SOCKET the
// SPIFFE standard names, each a path or a unix: URI ("unix:///run/spire/agent.sock"); "" with
// `why` set when neither names a unix socket.
std::string workload_api_socket(const IdentityConfig& identity, std::string& why);

// One process per node serving every pod the Istio CNI agent hands over (ztunnel's in-pod
// mode): each pod's listeners inside its network namespace, its own identity from istiod's
// CA. Its pods' proxies take their knobs from the client and gateway sections when given.
struct NodeConfig {
  std::string zds_socket = "/var/run/ztunnel/ztunnel.sock";  // the CNI agent's (ZDS) socket
};

struct Config {
  unsigned workers = 1;
  std::vector<unsigned> cpu_affinity;  // worker i runs on cpu_affinity[i % size]; empty: anywhere
  std::string log_level = "info";
  LogConfig log;
  milliseconds drain_timeout{30'000};
  // Reload the live keys when the config file changes (a ConfigMap's ..data swap), as SIGHUP does.
  bool watch_config = true;
  AdminConfig admin;
  TlsConfig tls;
  std::optional<GatewayConfig> gateway;
  std::optional<ClientConfig> client;
  Http2Config http2;
  SocketConfig socket;
  Live<LimitsConfig> limits;
  std::optional<XdsConfig> xds;
  IdentityConfig identity;
  std::optional<NodeConfig> node;
};

}  // namespace hbone::config

#pragma once

#include <cstdint>

#include "config/config.h"

namespace hbone::config {

// What a SIGHUP reload does with a key: `live` keys apply to new handshakes and requests,
// `restart` keys stay as started (a changed one is reported as needing a restart).
enum class Reload { restart, live };

// Name, reload class and one line of help: what every key declares besides its value.
struct Key {
  const char* name;
  Reload reload;
  const char* help;
};

inline constexpr uint64_t kMaxWindow = (1ull << 31) - 1;  // RFC 9113 §6.9.1
inline constexpr uint64_t kMaxSocketBuffer = 1ull << 30;
inline constexpr unsigned kMaxCpu = 1023;  // CPU_SETSIZE - 1
inline constexpr uint64_t kMaxBufferMemory = 1ull << 40;

// Every config key, declared once: path (by nesting), kind, bounds, reload class and help;
// its default is the Config member's initializer. The loader, /config_dump, the reload
// check and `hbone --config-keys` (the README's key table) are visitors of this list, so a
// key cannot be parsed without being dumped, compared on reload and documented.
//
// `C` is Config or const Config. A visitor provides:
//   section(Key, fn)                    a mapping that is always there
//   optional_section(Key, opt, fn)      a mapping whose presence means something (a role)
//   list(Key, what, vector, required, fn)  a list of mappings (non-empty when required)
//   integer(Key, T&, min, max)  size(Key, uint32_t& or uint64_t&, min, max)  duration(Key, ms&, min)
//   string(Key, s)  boolean(Key, b)  choice(Key, s, {words})  toggle(Key, b, on, off)
//   host_port(Key, HostPort&, listen, required)  optional_host_port(Key, optional<HostPort>&, listen) ("": none)
//   spiffe_id(Key, s)  identities(Key, list)
//   destinations(Key, DestinationPolicy&)  window(Key, uint32_t&, bool& automatic)
//   cidr(Key, Cidr&)  route_via(Key, RouteVia&)   (all required)
//   numbers(Key, vector<T>&, noun, min, max)  a list of integers in [min, max]
//   patterns(Key, vector<string>&)  exact, *, prefix* or *suffix
//   cidrs(Key, vector<Cidr>&)  CIDRs or bare addresses (one host)
template <typename V, typename C>
void visit_keys(V& v, C& c) {
  using R = Reload;
  using std::chrono::milliseconds;
  LiveRead live;  // the visitors read and write live keys too
  v.integer(Key{"workers", R::restart, "event-loop threads; each owns SO_REUSEPORT listeners and its connections"},
            c.workers, 1, 256);
  v.numbers(Key{"cpu_affinity", R::restart,
                "CPUs the workers are pinned to, worker i on the i-th (round robin); [] leaves placement "
                "to the kernel (perf/affinity.sh measures what pinning buys)"},
            c.cpu_affinity, "CPU", 0, kMaxCpu);
  v.choice(Key{"log_level", R::restart, "trace, debug, info, warn, error, off (changed live by POST /logging)"},
           c.log_level, {"trace", "debug", "info", "warn", "error", "off"});
  v.section(Key{"log", R::restart, ""}, [&] {
    v.toggle(Key{"format", R::restart,
                 "`text` or `json`: one JSON object a line (time, level, msg; access records with their "
                 "fields), every CONNECT's record included, refused ones too"},
             c.log.json, "json", "text");
  });
  v.duration(Key{"drain_timeout", R::restart, "how long SIGTERM waits for open tunnels"}, c.drain_timeout,
             milliseconds(0));
  v.boolean(Key{"watch_config", R::restart,
                "reload the live keys when the config file changes (its directory is watched, so a "
                "ConfigMap's ..data symlink swap counts), as SIGHUP does"},
            c.watch_config);
  v.section(Key{"admin", R::restart, ""}, [&] {
    v.host_port(Key{"listen", R::restart,
                  "admin endpoint (metrics, profiles, tunnels); port 0 = any, the bound address is logged"},
              c.admin.listen, true, false);
    v.optional_host_port(Key{"metrics_listen", R::restart,
                          "read-only endpoint for Prometheus and probes (GET /metrics and /healthz/ready "
                          "only), e.g. 0.0.0.0:15020; \"\": none. Keep admin.listen on loopback"},
                      c.admin.metrics_listen, true);
  });
  v.section(Key{"tls", R::restart, ""}, [&] {
    v.string(Key{"cert", R::live, "certificate chain (PEM); required with TLS; re-read on SIGHUP"}, c.tls.cert.get(live));
    v.string(Key{"key", R::live, "its private key (PEM); required with TLS; re-read on SIGHUP"}, c.tls.key.get(live));
    v.string(Key{"ca", R::live, "trust bundle for the peer's chain; required with TLS; re-read on SIGHUP"},
             c.tls.ca.get(live));
    v.string(Key{"trust_domain", R::restart, "the peer's SPIFFE id must be in it"}, c.tls.trust_domain);
    v.boolean(Key{"watch", R::restart,
                  "reload cert, key and ca when their files change (e.g. Kubernetes' ..data symlink swap), "
                  "as SIGHUP does"},
              c.tls.watch);
    v.duration(Key{"handshake_timeout", R::restart,
                   "a connection not through TLS and identity checks by then is closed"},
               c.tls.handshake_timeout, milliseconds(1));
    v.toggle(Key{"record_layer", R::restart,
                 "who protects TLS 1.3 records after the handshake: `own` (hbone's record layer, no copy; "
                 "BoringSSL builds) or `library` (SSL_read/SSL_write, the fallback)"},
             c.tls.own_record_layer, "own", "library");
    v.boolean(Key{"plaintext_h2c", R::restart,
                  "HTTP/2 over plain TCP, no TLS, no identities: **for benchmarks and fuzzing only**"},
              c.tls.plaintext_h2c);
  });
  v.optional_section(Key{"gateway", R::restart, "the gateway role"}, c.gateway, [&](auto& g) {
    v.host_port(Key{"listen", R::restart, "HBONE listener (IP literal; port 0 = any, logged as bound)"}, g.listen,
              true, false);
    v.identities(Key{"allowed_identities", R::live,
                     "SPIFFE ids allowed to CONNECT, others get 403; empty: any in the trust domain"},
                 g.allowed_identities.get(live));
    v.destinations(Key{"allowed_destinations", R::live,
                       "CIDRs (matched on the dialled address, after DNS) or exact host:port; others get "
                       "403; empty: any. Loopback, link-local, unspecified and cloud metadata addresses only when "
                       "an entry names them (a CIDR inside their block, or the authority), the host's own "
                       "addresses only when one names that exact address (a sidecar's own pod address is its "
                       "workload's: see require_arrived_address); hbone's own listeners never"},
                   g.allowed_destinations.get(live));
    v.identities(Key{"trusted_forwarders", R::live,
                     "SPIFFE ids whose CONNECTs may name the client's address in a Forwarded header (e.g. a "
                     "waypoint's); from anyone else it is ignored and PROXY v2 carries the peer's own address"},
                 g.trusted_forwarders.get(live));
    v.duration(Key{"connect_timeout", R::restart, "upstream connect (DNS included) deadline; then 503"},
               g.connect_timeout, milliseconds(1));
    v.toggle(Key{"balance", R::restart,
                 "with several workers: `exact` puts each accepted connection on the worker with the "
                 "fewest, `kernel` keeps SO_REUSEPORT's hash"},
             g.exact_balance, "exact", "kernel");
    v.toggle(Key{"proxy_protocol", R::restart,
                 "`v2`: send the target a PROXY v2 header with the client's address and, in TLV 0xD0, "
                 "the peer's SPIFFE id"},
             g.proxy_protocol_v2, "v2", "off");
    v.boolean(Key{"require_arrived_address", R::restart,
                  "the CONNECT target's IP must be the local address the connection arrived on, else 400 "
                  "(ztunnel's inbound rule; on for sidecars and node gateways)"},
              g.require_arrived_address);
    v.boolean(Key{"transparent", R::restart,
                  "IP_TRANSPARENT listener: accepts connections addressed to any IP, as node-level TPROXY "
                  "delivers them (scripts/capture.sh node-install; needs CAP_NET_ADMIN)"},
              g.transparent);
    v.list(Key{"policies", R::live,
               "L4 authorization with Istio's AuthorizationPolicy semantics, after the allow-lists: a "
               "matching DENY denies; then, if any ALLOW policy exists, one must match. Denied: 403, the "
               "log names the policy (`policy=NAME` or `policy=none-matched`); open tunnels a changed "
               "policy denies are reset"},
           "{name, action, rules}", g.policies.get(live), false, [&](auto& p) {
             v.string(Key{"name", R::live, "named in the log and in hbone_policy_decisions_total (required)"},
                      p.name);
             v.toggle(Key{"action", R::live, "ALLOW or DENY"}, p.deny, "DENY", "ALLOW");
             v.list(Key{"rules", R::live,
                        "the policy matches when one rule does; in a rule every non-empty field must match "
                        "(any entry of it); no rules: it matches nothing, `- {}`: everything"},
                    "{from, to}", p.rules, false, [&](auto& r) {
                      v.section(Key{"from", R::live, ""}, [&] {
                        v.patterns(Key{"principals", R::live,
                                       "peer SPIFFE ids (with or without spiffe://): exact, *, prefix* or *suffix"},
                                   r.from.principals);
                        v.patterns(Key{"namespaces", R::live, "the /ns/NAME/ of the peer's SPIFFE id, same patterns"},
                                   r.from.namespaces);
                        v.cidrs(Key{"ip_blocks", R::live, "the HBONE peer's address: CIDRs or addresses"},
                                r.from.ip_blocks);
                      });
                      v.section(Key{"to", R::live, ""}, [&] {
                        v.patterns(Key{"hosts", R::live,
                                       "the CONNECT authority's host, before DNS, any case: exact, *.suffix, "
                                       "prefix*"},
                                   r.to.hosts);
                        v.cidrs(Key{"cidrs", R::live, "the address dialled (after DNS): CIDRs or addresses"},
                                r.to.cidrs);
                        v.numbers(Key{"ports", R::live, "the CONNECT authority's port"}, r.to.ports, "port", 1,
                                  65535);
                      });
                    });
           });
  });
  v.optional_section(Key{"client", R::restart, "the client role"}, c.client, [&](auto& cl) {
    v.host_port(Key{"gateway", R::restart, "the gateway to tunnel to (host:port)"}, cl.gateway, false, false);
    v.spiffe_id(Key{"gateway_identity", R::live, "when set, the gateway's SPIFFE id must equal it"},
               cl.gateway_identity.get(live));
    v.duration(Key{"connect_timeout", R::restart, "dial deadline for pooled connections"}, cl.connect_timeout,
               milliseconds(1));
    v.duration(Key{"pool_idle_timeout", R::restart,
                   "a pooled connection without a tunnel this long is closed with GOAWAY (0s: never)"},
               cl.pool_idle_timeout, milliseconds(0));
    v.integer(Key{"max_tunnels_per_connection", R::restart,
                  "a pooled connection takes no new tunnel after this many and closes with GOAWAY after its last "
                  "(0: no limit; as Envoy's max_requests_per_connection)"},
              cl.max_tunnels_per_connection, 0, 1u << 31);
    v.list(Key{"listeners", R::live, "accept on `listen`, CONNECT to `target`; a reload binds new ones, closes removed ones (their tunnels "
                                                "carry on) and retargets the rest"}, "{listen, target}",
           cl.listeners.get(live), false, [&](auto& l) {
             v.host_port(Key{"listen", R::live, "local listener (IP literal)"}, l.listen, true, true);
             v.host_port(Key{"target", R::live, "CONNECT authority (host:port)"}, l.target, false, true);
           });
    v.optional_section(Key{"capture", R::restart, "transparent capture of outbound TCP (sidecar, egress)"},
                       cl.capture, [&](auto& cap) {
      v.host_port(Key{"listen", R::restart, "where the capture rules send connections (scripts/capture.sh)"},
                cap.listen, true, false);
      v.toggle(Key{"mode", R::restart,
                   "`redirect`: iptables REDIRECT, the target is SO_ORIGINAL_DST; `tproxy`: an "
                   "IP_TRANSPARENT listener, the target is the accepted socket's local address"},
               cap.tproxy, "tproxy", "redirect");
    });
    v.list(Key{"routes", R::live,
               "where captured connections go, first match wins; no match: reset and counted. A reload applies "
               "to new connections; open tunnels keep their route"},
           "{cidr, ports, gateway, identity, via, via_identity}", cl.routes.get(live), false, [&](auto& r) {
             v.cidr(Key{"cidr", R::live, "original destinations this route takes"}, r.cidr);
             v.numbers(Key{"ports", R::live, "their ports (empty: every port)"}, r.ports, "port", 1, 65535);
             v.route_via(Key{"gateway", R::live,
                             "`host:port` (a gateway), `destination:15008` (the destination's own "
                             "address, ztunnel-style) or `direct` (untunnelled, in the clear)"},
                         r.via);
             v.spiffe_id(Key{"identity", R::live, "when set, the gateway's SPIFFE id must equal it"},
                        r.identity);
             v.optional_host_port(Key{"via", R::live,
                                      "double HBONE: reach the gateway through a tunnel to this east-west "
                                      "gateway (host:port), TLS and HTTP/2 to the gateway inside it; \"\": none"},
                                  r.through, false);
             v.spiffe_id(Key{"via_identity", R::live, "when set, the east-west gateway's SPIFFE id must equal it"},
                        r.through_identity);
           });
  });
  v.section(Key{"http2", R::restart, ""}, [&] {
    v.window(Key{"stream_window", R::restart,
                 "SETTINGS_INITIAL_WINDOW_SIZE we advertise; `auto`: start at 256KiB and grow with the "
                 "bandwidth-delay product measured by PING"},
             c.http2.stream_window, c.http2.auto_window);
    v.size(Key{"max_window", R::restart, "the ceiling for `auto` (the connection window follows at 4x)"},
           c.http2.max_window, 65535, kMaxWindow);
    v.size(Key{"connection_window", R::restart,
               "connection receive window (WINDOW_UPDATE on stream 0); keep it above the stream window"},
           c.http2.connection_window, 65535, kMaxWindow);
    v.size(Key{"shared_stream_window", R::restart,
               "while two or more streams of a connection receive DATA (within 100ms of each other), each stream's "
               "receive window is at most this: a bulk stream queues no more than this ahead of another in their "
               "TCP connection (head-of-line); never below twice what arrives in the smallest PING round trip (a long "
               "path keeps its bandwidth-delay product); 0: off"},
           c.http2.shared_stream_window, 0, kMaxWindow);
    v.size(Key{"max_frame_size", R::restart,
               "SETTINGS_MAX_FRAME_SIZE we advertise and the largest DATA frame we send"},
           c.http2.max_frame_size, 16384, (1u << 24) - 1);  // RFC 9113 §6.5.2
    v.integer(Key{"max_concurrent_streams", R::restart, "streams the gateway allows per connection"},
              c.http2.max_concurrent_streams, 1, 1u << 20);
    v.integer(Key{"streams_per_connection", R::restart, "the client opens another pooled connection beyond this"},
              c.http2.streams_per_connection, 1, 1u << 20);
    v.size(Key{"max_header_list_size", R::restart,
               "advertised SETTINGS_MAX_HEADER_LIST_SIZE; larger request headers get 431"},
           c.http2.max_header_list_size, 1024, 1u << 20);
    v.duration(Key{"keepalive_interval", R::restart, "PING period (0s: off)"}, c.http2.keepalive_interval,
               milliseconds(0));
    v.duration(Key{"keepalive_timeout", R::restart, "a connection whose PING is unanswered this long is closed"},
               c.http2.keepalive_timeout, milliseconds(1));
  });
  v.section(Key{"socket", R::restart, ""}, [&] {
    v.size(Key{"send_buffer", R::restart, "SO_SNDBUF on every socket (0: kernel default, autotuned)"},
           c.socket.send_buffer, 0, kMaxSocketBuffer);
    v.size(Key{"recv_buffer", R::restart, "SO_RCVBUF on every socket (0: kernel default, autotuned)"},
           c.socket.recv_buffer, 0, kMaxSocketBuffer);
    v.size(Key{"read_size", R::restart, "the largest read from a local socket (reads start at 64KiB and grow while they fill up); bounds a tunnel's send buffer"},
           c.socket.read_size, 4096, 16u << 20);
    v.size(Key{"notsent_lowat", R::restart,
                "TCP_NOTSENT_LOWAT on HBONE connections and the bound of hbone's queue before them: "
                "the most an interactive tunnel's bytes wait behind a bulk one's (0: off)"},
           c.socket.notsent_lowat, 0, 64u << 20);
    v.integer(Key{"mark", R::restart,
                  "SO_MARK (e.g. 0x539) on sockets hbone opens, so capture rules skip them; 0: none"},
              c.socket.mark, 0, 0xffffffffu);
    v.duration(Key{"keepalive_time", R::restart,
                   "TCP keepalive on HBONE connections: idle time before the first probe (0s: off)"},
               c.socket.keepalive_time, milliseconds(0));
    v.duration(Key{"keepalive_interval", R::restart, "between keepalive probes"}, c.socket.keepalive_interval,
               milliseconds(1000));
    v.integer(Key{"keepalive_probes", R::restart, "unanswered probes that end the connection"},
              c.socket.keepalive_probes, 1, 127);
    v.duration(Key{"user_timeout", R::restart,
                   "TCP_USER_TIMEOUT on HBONE connections: data unacknowledged this long ends it (0s: off)"},
               c.socket.user_timeout, milliseconds(0));
  });
  v.section(Key{"limits", R::restart, ""}, [&] {
    v.integer(Key{"max_tunnels", R::live,
                  "open tunnels per process (0: no cap); beyond it the gateway answers 503, the client "
                  "resets"},
              c.limits.get(live).max_tunnels, 0, 1u << 24);
    v.integer(Key{"max_tunnels_per_identity", R::live, "gateway: open tunnels per peer SPIFFE id (0: no cap); "
                                                          "beyond it 429"},
              c.limits.get(live).max_tunnels_per_identity, 0, 1u << 24);
    v.duration(Key{"idle_timeout", R::live, "a tunnel with no byte either way this long is reset (0s: never)"},
               c.limits.get(live).idle_timeout, milliseconds(0));
    v.size(Key{"buffer_memory", R::live,
               "user-space bytes all tunnels may hold (read buffers, received bytes not yet written; 0: no "
               "budget); at it, tunnels holding bytes stop reading and returning stream credit until it has room"},
           c.limits.get(live).buffer_memory, 0, kMaxBufferMemory);
  });
  v.optional_section(Key{"xds", R::restart, "Istio's control plane (delta ADS, ztunnel's protocol)"}, c.xds, [&](auto& x) {
    v.host_port(Key{"address", R::restart, "istiod's xDS address, e.g. istiod.istio-system.svc:15012"}, x.address,
                false, true);
    v.string(Key{"root_ca", R::restart, "PEM bundle that signs istiod's serving certificate; required"}, x.root_ca);
    v.string(Key{"istiod_san", R::restart,
                 "the name istiod's certificate must hold: a DNS name, or a spiffe:// id"},
             x.istiod_san);
    v.string(Key{"token_file", R::restart,
                 "bearer token for istiod (a projected service-account token), re-read on every connect; "
                 "\"\": none"},
             x.token_file);
    v.string(Key{"cluster_id", R::restart, "the cluster this node is in, as istiod knows it (CLUSTER_ID)"},
             x.cluster_id);
    v.string(Key{"network", R::restart,
                 "this node's network (ztunnel's NETWORK): addresses are looked up on it, and a workload "
                 "on another network is reached through its network gateway"},
             x.network);
  });
  v.section(Key{"identity", R::restart, ""}, [&] {
    v.choice(Key{"provider", R::restart,
                 "`files` (tls.cert, tls.key, tls.ca); `istio_ca`: an EC P-256 key made in memory and a CSR "
                 "to istiod's CA (needs xds), renewed at half its lifetime; `spiffe_workload_api`: the SVID "
                 "and bundles a SPIFFE agent (SPIRE's) streams, rotated as it sends them"},
             c.identity.provider, {"files", "istio_ca", "spiffe_workload_api"});
    v.optional_host_port(Key{"ca_address", R::restart, "istio_ca: the CA's address; \"\": xds.address"},
                         c.identity.ca_address, false);
    v.string(Key{"namespace", R::restart, "istio_ca: the namespace of the identity asked for"},
             c.identity.namespace_name);
    v.string(Key{"service_account", R::restart, "istio_ca: the service account of the identity asked for"},
             c.identity.service_account);
    v.duration(Key{"cert_ttl", R::restart, "istio_ca: the certificate lifetime asked for (the CA may grant less)"},
               c.identity.cert_ttl, milliseconds(60'000));
    v.string(Key{"spiffe_socket", R::restart,
                 "spiffe_workload_api: the agent's socket, a path or unix:///path; \"\": SPIFFE_ENDPOINT_SOCKET"},
             c.identity.spiffe_socket);
  });
  v.optional_section(Key{"node", R::restart,
                         "serve every pod the Istio CNI agent hands over, each in its own network namespace with "
                         "its own identity (ztunnel's in-pod mode; needs xds and identity.provider: istio_ca)"},
                     c.node, [&](auto& n) {
                       v.string(Key{"zds_socket", R::restart, "the CNI agent's unix socket (ZDS)"}, n.zds_socket);
                     });
}

}  // namespace hbone::config

"""The source a gateway passes on in PROXY v2: the HBONE peer's own address, unless the peer
is in gateway.trusted_forwarders and its CONNECT names the client in a well-formed
`Forwarded` header (RFC 7239); anything else is ignored and counted."""

import yaml

from h2client import H2Client
from harness import Hbone, TargetServer, tls
from mesh_app import read_proxy_header

CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client"


def connect(client, server, forwarded):
    """A CONNECT to `server` with this Forwarded header (None: none); the PROXY source seen."""
    headers = [(":method", "CONNECT"), (":authority", f"127.0.0.1:{server.port}")]
    if forwarded is not None:
        headers.append(("forwarded", forwarded))
    seen = len(server.results)
    assert client.status(client.request(headers)) == "200"
    return server.wait_results(seen + 1)[-1]["proxy_source"]


def test_only_trusted_forwarders_name_the_source(tmp_path):
    server = TargetServer(read_proxy_header)
    config = {"tls": tls("gateway"), "gateway": {"listen": "127.0.0.1:0", "proxy_protocol": "v2",
                                                 "allowed_destinations": ["127.0.0.1/32"]}}
    gw = Hbone(tmp_path, "gateway", config)
    client = H2Client(gw.bound_port("gateway.listen"))
    own = f"127.0.0.1:{client.sock.getsockname()[1]}"
    # Not trusted: the peer's own address, whatever it claims (the finding: any peer could).
    assert connect(client, server, 'for="10.9.8.7:4444"') == own
    assert connect(client, server, "xfor=10.0.0.1") == own
    assert connect(client, server, None) == own
    assert gw.metric("hbone_gateway_forwarded_ignored_total", reason="untrusted") == 1

    config["gateway"]["trusted_forwarders"] = [CLIENT_ID]
    gw.config_path.write_text(yaml.safe_dump(config))
    gw.wait_for_log("live keys applied")
    assert connect(client, server, 'for="10.9.8.7:4444"') == "10.9.8.7:4444"
    assert connect(client, server, 'for="10.0.0.1:1", for="10.9.8.7:4444"') == "10.9.8.7:4444"  # the last element
    assert connect(client, server, "for=10.9.8.7:4444") == own  # unquoted ':' is not RFC 7239
    assert connect(client, server, 'for="[fd00::1]:80";for="10.9.8.7:1"') == own  # two in one element
    assert connect(client, server, "xfor=10.0.0.1") == own  # no `for` at all
    assert gw.metric("hbone_gateway_forwarded_ignored_total", reason="malformed") == 2
    client.sock.close()
    assert gw.stop() == 0

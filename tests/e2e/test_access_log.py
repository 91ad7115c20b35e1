"""One access record per CONNECT, opened or refused, of one shape; log.format: json writes
every line as a JSON object, access records with the same fields as the text form."""

import json
import re

import h2.events

from h2client import H2Client
from harness import Hbone, TargetServer, echo, tls, wait_until

OTHER_PORT = 9  # a port no policy allows: denied before anything is dialled
FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def text_records(log):
    """The access records of a text log, each as {field: value} (quotes taken off)."""
    records = []
    for line in log.splitlines():
        at = line.find(" tunnel role=")
        if at < 0:
            continue
        records.append({k: v[1:-1] if v.startswith('"') else v for k, v in FIELD.findall(line[at + len(" tunnel"):])})
    return records


def json_records(log):
    lines = [json.loads(line) for line in log.splitlines()]  # every line parses
    assert all({"time", "level", "thread"} <= line.keys() for line in lines)
    return [{k: str(v) for k, v in line.items() if k not in ("time", "level", "thread", "type")}
            for line in lines if line.get("type") == "access"]


def run(tmp_path, name, fmt, server):
    """A gateway with one DENY policy; three CONNECTs: opened and closed, denied, malformed."""
    served = len(server.results)
    config = {"tls": tls("gateway"), "log": {"format": fmt}, "gateway": {
        "listen": "127.0.0.1:0", "allowed_destinations": ["127.0.0.1/32"],
        "policies": [{"name": "no-discard", "action": "DENY", "rules": [{"to": {"ports": [OTHER_PORT]}}]}]}}
    gw = Hbone(tmp_path, name, config)
    client = H2Client(gw.bound_port("gateway.listen"))
    sid, status = client.connect(f"127.0.0.1:{server.port}")
    assert status == "200"
    client.conn.send_data(sid, b"ping", end_stream=True)
    client.flush()
    assert client.connect(f"127.0.0.1:{OTHER_PORT}")[1] == "403"
    assert client.connect("nohost")[1] == "400"
    assert wait_until(lambda: server.results[served:] == ["eof"])
    # The target's end came back (END_STREAM): the tunnel is done before the connection
    # closes, whatever the order the gateway's loop sees them in ("done", not "connection closed").
    client.wait(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == sid)
    client.sock.close()
    assert gw.stop() == 0
    return gw.log()


def comparable(record):
    # What differs between two runs: the peer's port, the time taken.
    return {k: v for k, v in record.items() if k not in ("src", "duration", "duration_ms")}


def test_refused_connects_get_access_records_and_json_has_the_same_fields(tmp_path):
    server = TargetServer(echo)
    text = text_records(run(tmp_path, "text", "text", server))
    assert len(text) == 3, text
    opened, malformed, denied = sorted(text, key=lambda r: r["status"])
    assert opened["status"] == "200" and opened["flags"] == "-" and opened["sent"] == "4"
    assert denied == {**denied, "status": "403", "flags": "UAEX", "policy": "no-discard", "sent": "0",
                      "reason": "denied: policy=no-discard", "close": "refused", "dst": f"127.0.0.1:{OTHER_PORT}"}
    assert malformed == {**malformed, "status": "400", "flags": "DPE", "dst": "-",
                         "reason": 'bad authority \\"nohost\\": missing port'}  # quotes escaped in a quoted field
    as_json = json_records(run(tmp_path, "json", "json", server))
    assert sorted(map(comparable, as_json), key=lambda r: r["status"]) == \
        sorted(map(comparable, text), key=lambda r: r["status"])

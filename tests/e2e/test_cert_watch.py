"""tls.watch: certificates rotate without a signal, the way Kubernetes rewrites a mounted
Secret or a csi-driver-spiffe volume (files behind a `..data` symlink swapped at once);
/certs and hbone_certificate_expiry_seconds show what is in use."""

import datetime
import json
import os
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import CERTS, Mesh, TargetServer, echo, paced_bulk, random_bytes, start_bulk, sha256
from test_reload import GATEWAY_ID, der, issue_gateway_cert, served_certificate

MiB = 1 << 20


class KubeletVolume:
    """A directory as kubelet writes a projected volume: ..data -> ..<version>/, and each
    file a symlink through ..data; a new version is swapped in by renaming a symlink."""

    def __init__(self, root):
        self.root = root
        root.mkdir()
        self.versions = 0

    def publish(self, cert, key, ca=CERTS / "ca.pem"):
        self.versions += 1
        version = self.root / f"..2026_11_30_{self.versions}"
        version.mkdir()
        for name, source in (("tls.crt", cert), ("tls.key", key), ("ca.crt", ca)):
            (version / name).write_bytes(source.read_bytes())
            if not (self.root / name).is_symlink():
                os.symlink(f"..data/{name}", self.root / name)
        os.symlink(version.name, self.root / "..data_tmp")
        os.rename(self.root / "..data_tmp", self.root / "..data")  # the atomic swap

    def tls(self):
        return {"cert": str(self.root / "tls.crt"), "key": str(self.root / "tls.key"), "ca": str(self.root / "ca.crt")}


def wait_metric(hbone, name, want, timeout=10, **labels):
    deadline = time.monotonic() + timeout
    while hbone.metric(name, **labels) != want:
        assert time.monotonic() < deadline, f"{name}{labels} != {want}:\n{hbone.log()}"
        time.sleep(0.05)


def serial_of(cert_path):
    """As openssl x509 -serial writes it (and hbone): uppercase hex, even length."""
    digits = format(x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number, "X")
    return digits.zfill(len(digits) + len(digits) % 2)


def test_symlink_swap_rotates_certificate_during_a_transfer(tmp_path):
    payload = random_bytes(32 * MiB, seed=21)

    server = TargetServer(paced_bulk(payload))
    volume = KubeletVolume(tmp_path / "svid")
    volume.publish(CERTS / "gateway.pem", CERTS / "gateway-key.pem")
    mesh = Mesh(tmp_path, server.port, gateway={"tls": volume.tls()})
    gw = mesh.gateway
    assert served_certificate(mesh.gateway_port) == der(CERTS / "gateway.pem")
    bulk, reader, result = start_bulk(mesh)

    # 1. A new certificate swapped in: new handshakes get it, no signal needed.
    new_cert, new_key = issue_gateway_cert(tmp_path, "gw-watch-1")
    volume.publish(new_cert, new_key)
    wait_metric(gw, "hbone_config_reloads_total", 1, result="ok")
    assert served_certificate(mesh.gateway_port) == der(new_cert)
    gw.wait_for_log(f"tls.watch: certificates reloaded (identity {GATEWAY_ID}, serial {serial_of(new_cert)})")

    # 2. A key that does not match its certificate: nothing changes, the error is counted.
    mismatched, _ = issue_gateway_cert(tmp_path, "gw-watch-2")
    volume.publish(mismatched, CERTS / "other-key.pem")
    wait_metric(gw, "hbone_config_reloads_total", 1, result="error")
    assert served_certificate(mesh.gateway_port) == der(new_cert)
    gw.wait_for_log("reload failed, nothing changed (tls.watch: certificate files changed)")

    # 3. The next change is tried again: a good pair goes in.
    fixed_cert, fixed_key = issue_gateway_cert(tmp_path, "gw-watch-3")
    volume.publish(fixed_cert, fixed_key)
    wait_metric(gw, "hbone_config_reloads_total", 2, result="ok")
    assert served_certificate(mesh.gateway_port) == der(fixed_cert)

    # /certs shows what is in use now.
    status, body = gw.admin_request("/certs")
    assert status == 200
    certs = json.loads(body)
    leaf = certs["certificate_chain"][0]
    assert leaf["serial"] == serial_of(fixed_cert) and leaf["spiffe_id"] == GATEWAY_ID
    assert 0 < leaf["seconds_to_expiry"] <= 86400  # issued for one day
    assert certs["ca_bundle"][0]["serial"] == serial_of(CERTS / "ca.pem")
    assert 0 < gw.metric("hbone_certificate_expiry_seconds", role="own") <= 86400

    # The transfer that was in flight across the swaps is whole.
    reader.join(30)
    assert result == {"digest": sha256(payload), "total": len(payload)}
    with mesh.connect() as conn:
        conn.sendall(b"after")
        assert conn.recv(5) == b"after"
    bulk.close()
    mesh.stop()


def expired_gateway_cert(directory):
    """A gateway certificate from the dev CA that expired yesterday."""
    ca_cert = x509.load_pem_x509_certificate((CERTS / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((CERTS / "ca-key.pem").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=3)).not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(GATEWAY_ID)]), False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / "expired.pem", directory / "expired-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_expired_certificate_is_warned_and_measured(tmp_path):
    cert, key = expired_gateway_cert(tmp_path)
    server = TargetServer(echo)
    mesh = Mesh(tmp_path, server.port, gateway={"tls": {"cert": str(cert), "key": str(key)}})
    mesh.gateway.wait_for_log("EXPIRED")
    assert -2 * 86400 < mesh.gateway.metric("hbone_certificate_expiry_seconds", role="own") < -86000
    assert mesh.gateway.metric("hbone_certificate_expiry_seconds", role="ca") > 86400
    mesh.stop()

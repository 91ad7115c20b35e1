"""Certificates signed by the dev CA (certs/dev/ca.pem) for the fakes that issue identities:
istiod's CA (fake_istiod.py) and a SPIFFE agent's Workload API (fake_spiffe_agent.py)."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID


class DevCa:
    def __init__(self, ca_cert, ca_key):
        with open(ca_cert, "rb") as f:
            self.pem = f.read()
        self.cert = x509.load_pem_x509_certificate(self.pem)
        with open(ca_key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)

    def sign(self, public_key, spiffe_id, ttl):
        """A leaf for `spiffe_id` (its one URI SAN, as Istio's CA and SPIRE issue them),
        valid for `ttl` seconds; (certificate, serial)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        serial = x509.random_serial_number()
        cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.cert.subject)
                .public_key(public_key).serial_number(serial)
                .not_valid_before(now - datetime.timedelta(seconds=1))
                .not_valid_after(now + datetime.timedelta(seconds=ttl))
                .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=True)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return cert, serial

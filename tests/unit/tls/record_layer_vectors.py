#!/usr/bin/env python3
"""Expected records for record_layer_kat_test.cc, computed by an implementation that shares
nothing with hbone's: Python's hmac/hashlib for HKDF (RFC 5869, RFC 8446 §7.1) and
python3-cryptography (OpenSSL) for the AEADs. Checks itself against RFC 8448 §3 first.

    python3 tests/unit/tls/record_layer_vectors.py
"""

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

SUITES = {  # TLS 1.3 cipher suite -> (hash, AEAD, key length)
    0x1301: (hashlib.sha256, AESGCM, 16),
    0x1302: (hashlib.sha384, AESGCM, 32),
    0x1303: (hashlib.sha256, ChaCha20Poly1305, 32),
}


def expand_label(hash_, secret, label, length):
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hash_).digest()
        out += block
        counter += 1
    return out[:length]


def seal(suite, secret, sequence, inner_type, content):
    hash_, aead, key_length = SUITES[suite]
    key = expand_label(hash_, secret, b"key", key_length)
    iv = expand_label(hash_, secret, b"iv", 12)
    nonce = bytes(a ^ b for a, b in zip(iv, sequence.to_bytes(12, "big")))
    header = bytes([23, 3, 3]) + (len(content) + 1 + 16).to_bytes(2, "big")
    return header + aead(key).encrypt(nonce, content + bytes([inner_type]), header)


def next_secret(suite, secret):
    hash_ = SUITES[suite][0]
    return expand_label(hash_, secret, b"traffic upd", hash_().digest_size)


PAYLOAD = bytes(range(0x32))  # RFC 8448's 50 bytes 00..31
KEY_UPDATE = bytes([24, 0, 0, 1, 0])

# RFC 8448 §3: the client's first application record, the server's second.
cats = bytes.fromhex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
sats = bytes.fromhex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
assert seal(0x1301, cats, 0, 23, PAYLOAD).hex() == (
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b"
    "62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4")
assert seal(0x1301, sats, 1, 23, PAYLOAD).hex() == (
    "17030300432e937e11ef4ac740e538ad36005fc4a46932fc3225d05f82aa1b36e30efaf97d90e6dffc602dcb501a59a8"
    "fcc49c4bf2e5f0a21c0047c2abf332540dd032e167c2955d")

# Per suite: record 0 under generation 0, the KeyUpdate at sequence 1, record 0 under
# generation 1 ("traffic upd"), all from the client's secret.
secrets = {0x1301: cats, 0x1302: bytes(range(1, 49)), 0x1303: bytes(range(101, 133))}
for suite, secret in secrets.items():
    print(f"0x{suite:04x} secret     {secret.hex()}")
    print(f"0x{suite:04x} upd secret {next_secret(suite, secret).hex()}")
    stream = (seal(suite, secret, 0, 23, PAYLOAD) + seal(suite, secret, 1, 22, KEY_UPDATE) +
              seal(suite, next_secret(suite, secret), 0, 23, PAYLOAD))
    print(f"0x{suite:04x} records    {stream.hex()}")

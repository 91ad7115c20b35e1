"""Python classes for hbone's own .proto files (proto/), generated at start by Debian's
protoc into a temporary directory that is put on sys.path: the fakes in tests/support
speak exactly the messages hbone is built from."""
import os
import subprocess
import sys
import tempfile

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def compile_protos():
    out = tempfile.mkdtemp(prefix="hbone-proto-")
    protos = [os.path.relpath(os.path.join(d, f), PROTO_DIR)
              for d, _, files in os.walk(PROTO_DIR) for f in files if f.endswith(".proto")]
    subprocess.run(["protoc", f"--python_out={out}", "-I", PROTO_DIR] + protos, check=True)
    sys.path.insert(0, out)

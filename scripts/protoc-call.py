#!/usr/bin/env python3
"""Calls offstatd with no offstat code at all: Google's protoc encodes the
request and decodes the reply, nngcat carries it over NNG. It shows (and a
test checks) that the .proto files are the whole contract.

usage: protoc-call.py URL METHOD 'REQUEST IN PROTOBUF TEXT FORMAT'
e.g.   protoc-call.py tcp://127.0.0.1:7355 GetCount \\
           'area: "dorset" offence: "S15A" period { text: "2020/21" }'

A token in $OFFSTAT_TOKEN is sent as metadata 'authorization: Bearer TOKEN'.

Prints the reply's status and payload in text format; exits 0 when the
status is OK, 1 when it is not, 2 on a usage or tool error.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "proto")
PROTO = "offstat/v1/offstat.proto"


def protoc(mode, message, data):
    return subprocess.run(
        ["protoc", "--proto_path=" + PROTO_DIR, f"--{mode}=offstat.v1.{message}",
         PROTO], input=data, capture_output=True, check=True).stdout


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, data):
    """A length-delimited field: tag, length, bytes."""
    return varint(num << 3 | 2) + varint(len(data)) + data


def top_fields(buf):
    """The top-level length-delimited fields of a message, by number."""
    fields, i = {}, 0
    while i < len(buf):
        key, shift = 0, 0
        while True:
            b = buf[i]; i += 1
            key |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        num, wire = key >> 3, key & 7
        if wire != 2:
            raise ValueError(f"field {num}: wire type {wire}")
        n, shift = 0, 0
        while True:
            b = buf[i]; i += 1
            n |= (b & 0x7F) << shift; shift += 7
            if not b & 0x80:
                break
        fields[num] = buf[i:i + n]
        i += n
    return fields


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    url, method, text = sys.argv[1:]
    payload = protoc("encode", method + "Request", text.encode())
    envelope = (field(1, f"offstat.v1.OffenceStats/{method}".encode()) +
                field(2, payload) + field(3, b"protoc-call"))
    token = os.environ.get("OFFSTAT_TOKEN")
    if token:
        envelope += field(5, field(1, b"authorization") +
                          field(2, b"Bearer " + token.encode()))
    # nngcat 1.5.2 refuses --count and --recv-timeout with REQ; with a
    # file it sends once and prints the one reply.
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(envelope)
        f.flush()
        reply = subprocess.run(
            ["nngcat", "--req0", "--dial", url, "--raw", "--file", f.name],
            capture_output=True, check=True, timeout=10).stdout
    fields = top_fields(reply)
    status = protoc("decode", "RpcStatus", fields.get(1, b"")).decode()
    print("status {\n" + "".join("  " + l + "\n" for l in status.splitlines()) + "}")
    ok = "code:" not in status
    if ok:
        print(protoc("decode", method + "Response", fields.get(2, b"")).decode(),
              end="")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired,
            OSError, ValueError) as e:
        err = getattr(e, "stderr", b"") or b""
        print(f"protoc-call: {e} {err.decode(errors='replace')}", file=sys.stderr)
        sys.exit(2)

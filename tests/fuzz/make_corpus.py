#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets under tests/fuzz/corpus/.

Requests are real calls written in protobuf text format and encoded by
Google's protoc from proto/offstat/v1/offstat.proto, so the seeds are what
any client would send: corpus/methods/ holds the bare request messages
(fuzz_methods wraps them in an envelope per method), corpus/dispatch/ the
same calls in their RpcRequest envelopes. Open data rows are written here
in the Home Office format; CSV and period seeds are small texts.

usage: make_corpus.py [OUTDIR]   (default: corpus/ beside this script)

The output is committed; run this again after changing the cases or the
.proto, and commit what changed. File names are stable, so an unchanged
case rewrites the same file.
"""
import hashlib
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "proto")
PROTO = "offstat/v1/offstat.proto"
PREFIX = "offstat.v1.OffenceStats/"

# The writer token the fuzz entry points trust (FUZZ_TOKEN in entry.h),
# and the tokens file line with its SHA-256.
TOKEN = "ost_0000002a_" + "5eed" * 16
TOKEN_LINE = ("0000002a writer %s 2026-01-01T00:00:00Z fuzz"
              % hashlib.sha256(TOKEN.encode()).hexdigest())

# (file name, method, request text). The message type is <Method>Request.
REQUESTS = [
    ("count-dorset-s15a", "GetCount",
     'area: "dorset" offence: "S15A" period { text: "2020/21" }'),
    ("count-code-parts", "GetCount",
     'area: "E23000039" offence: "88A" period { year: 2024 quarter: 2 }'),
    ("count-rolling", "GetCount",
     'area: "Devon & Cornwall" offence: "sexual grooming" '
     'period { text: "year ending June 2024" }'),
    ("count-source", "GetCount",
     'area: "Dorset" offence: "s.15A" period { year: 2018 } '
     'source: "bridport-2019"'),
    ("count-region", "GetCount",
     'area: "South West" offence: "88A" period { text: "2024/25 Q1" }'),
    ("count-kind", "GetCount",
     'area: "wiltshire" offence: "88A" '
     'period { year: 2024 quarter: 4 kind: ROLLING_YEAR }'),
    ("count-unknown", "GetCount",
     'area: "Atlantis" offence: "999Z" period { text: "2017/19" }'),
    ("series-yearly", "GetSeries",
     'area: "dorset" offence: "S15A" from { text: "2017/18" } '
     'to { text: "2020/21" } granularity: YEARLY'),
    ("series-quarterly", "GetSeries",
     'area: "E23000039" offence: "88A" from { year: 2024 quarter: 1 } '
     'to { year: 2024 quarter: 4 } granularity: QUARTERLY'),
    ("series-open", "GetSeries", 'area: "South West" offence: "88A"'),
    ("trend-dorset", "CompareTrend",
     'area: "dorset" offence: "S15A" base_period { text: "2017/18" } '
     'end_period { text: "2020/21" }'),
    ("trend-comparators", "CompareTrend",
     'area: "Dorset" offence: "88A" base_period { year: 2024 quarter: 1 } '
     'end_period { year: 2024 quarter: 4 } comparators: "South West" '
     'comparators: "England" comparators: "wiltshire" confidence: 0.9'),
    ("rank-count", "RankAreas",
     'offence: "88A" kind: FORCE by: COUNT period { text: "2024/25" } '
     'limit: 10'),
    ("rank-rate", "RankAreas",
     'offence: "sexual grooming" within: "South West" by: RATE_UNDER18 '
     'period { year: 2024 }'),
    ("rank-change", "RankAreas",
     'offence: "88A" kind: REGION by: CHANGE period { text: "2024/25 Q4" } '
     'base_period { text: "2024/25 Q1" } confidence: 0.99'),
    ("areas-all", "ListAreas", 'page { page_size: 10 }'),
    ("areas-token", "ListAreas",
     'page { page_size: 5 page_token: "10" } kind: FORCE '
     'parent: "E12000009"'),
    ("offences-query", "ListOffences",
     'page { page_size: 3 } group: "Sexual offences" query: "groom"'),
    ("offences-all", "ListOffences", ''),
    ("sources", "ListSources", 'page { page_size: 2 page_token: "1" }'),
    ("ingest-open", "Ingest",
     'open_label: "2025/26 Q1" source: "ho-prc-open-data" '
     'idempotency_key: "k1"'),
    ("ingest-rows", "Ingest",
     'release: 7 rows { financial_year: "2024/25" financial_quarter: 1 '
     'force_name: "Dorset" offence_description: "Sexual grooming" '
     'offence_group: "Sexual offences" '
     'offence_subgroup: "Other sexual offences" offence_code: "88A" '
     'count: 10 }'),
    ("ingest-commit", "Ingest", 'commit_release: 7'),
    ("server-info", "ServerInfo", ''),
    ("releases-all", "ListReleases", 'page { page_size: 5 } all: true'),
    ("count-as-of", "GetCount",
     'area: "dorset" offence: "S15A" period { text: "2020/21" } '
     'as_of_release: 1'),
    ("series-history", "GetSeries",
     'area: "dorset" offence: "S15A" from { text: "2017/18" } '
     'to { text: "2020/21" } history: true as_of_release: 1'),
]

# Hostile requests written byte by byte, as protoc would not write them:
# repeated fields that cost far more memory decoded than on the wire (over
# the fuzz targets' decoding budget of 16 x 8 KiB), and NUL bytes inside
# strings. (file name, bytes) for corpus/dispatch/, then corpus/methods/.
EMPTY5 = b"\x2a\x00"   # field 5, length-delimited, empty


def _varint(n):
    out = b""
    while n > 0x7f:
        out += bytes([n & 0x7f | 0x80])
        n >>= 7
    return out + bytes([n])


def _len(field, data):
    return _varint(field << 3 | 2) + _varint(len(data)) + data


HOSTILE_DISPATCH = [
    # 3,000 empty metadata entries: 264 KB decoded.
    ("metadata-flood", _len(1, (PREFIX + "ServerInfo").encode()) +
     _len(3, b"flood") + EMPTY5 * 3000),
    ("method-nul", _len(1, (PREFIX + "ServerInfo\0x").encode()) +
     _len(3, b"nul")),
    ("metadata-value-nul", _len(1, (PREFIX + "ServerInfo").encode()) +
     _len(5, _len(1, b"authorization") +
          _len(2, ("Bearer " + TOKEN + "\0x").encode()))),
]
HOSTILE_METHODS = [
    # Field 5 is comparators in CompareTrend and rows in Ingest: 3,000 empty
    # ones decode to 264 KB and 504 KB.
    ("field5-flood", EMPTY5 * 3000),
    ("area-nul", _len(1, b"Dor\0set") + _len(2, b"S15A")),
]

HEADER = ("Financial Year,Financial Quarter,Force Name,Offence Description,"
          "Offence Group,Offence Subgroup,Offence Code,Number of Offences")

# Open data files in the Home Office layout, rows written for this corpus.
OPENDATA = {
    "rows": "\n".join([
        HEADER,
        "2024/25,1,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,10",
        "2024/25,2,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,12",
        '2024/25,1,Wiltshire,"Public fear, alarm or distress",'
        "Public order offences,Public order offences,9A,431",
        "2024/25,1,Gwent,Manslaughter,Violence against the person,"
        "Homicide,4.1,0",
        "2024/25,1,Gwent,Corporate manslaughter,"
        "Violence against the person,Homicide,4.10,1",
    ]) + "\n",
    "crlf-bom": "\ufeff" + "\r\n".join([
        HEADER,
        "2023/24,4,Metropolitan Police,Stalking,Violence against the person,"
        "Stalking and harassment,8Q,1204",
        "2023/24,4,British Transport Police,Stalking,"
        "Violence against the person,Stalking and harassment,8Q,3",
        "2023/24,4,Action Fraud,Fraud,Fraud offences,Fraud offences,"
        "53A,9000",
    ]),
    "bad-rows": "\n".join([
        HEADER,
        "2017/19,1,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,10",
        "2024/25,5,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,10",
        "2024/25,1,Atlantis,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,10",
        "2024/25,1,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,-3",
        "2024/25,1,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A;DROP,10",
        '2024/25,1,Dorset,"unterminated,Sexual offences,x,88A,10',
        "2024/25,1,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,10",
        "2024/25,1,Dorset,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,11",
        ",,,,,,,",
        "",
        "2024/25,1, Devon and Cornwall ,Sexual grooming,Sexual offences,"
        "Other sexual offences,88A,9007199254740993",
    ]) + "\n",
    "wrong-header": "Year,Quarter,Force\n2024/25,1,Dorset\n",
}

CSV = {
    "plain": "a,b,c\n1,2,3\n",
    "quoted": 'x,"a, b","say ""hi""",\n"multi\nline",y\r\nlast',
    "cr-only": "a,b\rc,d\r\re",
    "bom-blank": "\ufeff\n\n,\n",
    "bad-quotes": 'a"b,c\n"open,d\n"x"y,z\n',
}

# Tokens seeds: the authorization value, a newline, the tokens file.
TOKENS = {
    "writer": "Bearer %s\n# offstat tokens\n%s\n" % (TOKEN, TOKEN_LINE),
    "wrong-secret": "Bearer %s\n%s\n" % (TOKEN[:-1] + "0", TOKEN_LINE),
    "two-roles": "bearer %s\n%s\n%s\n" % (
        TOKEN, TOKEN_LINE.replace("writer", "reader"),
        TOKEN_LINE.replace("0000002a", "0000002b")),
    "expired": "Bearer %s\n%s\n" % (
        TOKEN, TOKEN_LINE.replace(" fuzz", " 2020-01-01T00:00:00Z fuzz")),
    "expires-later": "Bearer %s\n%s\n" % (
        TOKEN, TOKEN_LINE.replace(" fuzz", " 2999-12-31T23:59:59Z fuzz")),
    "never": "Bearer %s\n%s\n" % (
        TOKEN, TOKEN_LINE.replace(" fuzz", " never fuzz")),
    "bad-file": "Bearer x\nnot a token line\n",
    "empty": "\n",
}

# Config file seeds (fuzz_config): the first line is also tried as every
# flag's value, so some begin with a bare value.
CONFIG = {
    "full": """# offstatd settings
[offstatd]
listen = tcp://0.0.0.0:7355, ipc:///run/offstat/offstat.ipc
db = /var/lib/offstat/offstat.db
data_dir = /var/lib/offstat
tokens = /etc/offstat/tokens
http = 127.0.0.1:9355
log_level = info
workers = 64
max_request = 1048576
read_auth = required
ingest_expiry = 1800
reply_cache = 33554432
listener_check = 5
""",
    "tls": """listen = tls+tcp://0.0.0.0:7356
tls_cert = /etc/offstat/server.crt
tls-key = /etc/offstat/server.key
tls_key_password = correct horse battery staple
tls_client_ca = /etc/offstat/clients.pem
""",
    "first-line-value": "tcp://[::1]:7355\nhttp = [::1]:9355\n",
    "number": "4096\nworkers = 4097\n",
    "bad-section": "[other]\nlisten = tcp://127.0.0.1:1\n",
    "bad-key": "; comment\nport = 7355\n",
    "no-equals": "listen\n",
    "off": "off\nhttp = off\nreply_cache = 0\nlistener_check = 0\n",
    "continuation": "listen = tcp://127.0.0.1:1\n  tcp://127.0.0.1:2\n",
    "long": "db = " + "x" * 300 + "\n",
}

PERIODS = ["2017/18", "2024/25 Q1", "2024-25", "2017/2018", "FY2017",
           "YE 2024/25 Q3", "year ending June 2024",
           "year ending March 2025", "2024/25Q4", "2017/19", "9999/00",
           "2024/25 Q5", " fy 2099 "]


def protoc_encode(message, text):
    return subprocess.run(
        ["protoc", "--proto_path=" + PROTO_DIR,
         "--encode=offstat.v1." + message, PROTO],
        input=text.encode(), capture_output=True, check=True).stdout


def text_bytes(data):
    """Bytes as a protobuf text-format string literal."""
    return '"' + "".join("\\%03o" % b for b in data) + '"'


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for sub in ("dispatch", "methods", "csv", "opendata", "import", "period",
                "tokens", "config"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    for name, method, text in REQUESTS:
        payload = protoc_encode(method + "Request", text)
        # Credentials only where a call needs them (or, for one read,
        # where a wrong token must be refused): a token that is given must
        # be valid, and a seed refused at the door reaches nothing else.
        meta = ""
        if method == "Ingest":
            meta = ('metadata { key: "authorization" value: "Bearer %s" }'
                    % TOKEN)
        elif name == "count-source":
            meta = ('metadata { key: "authorization" value: "Bearer %s" }'
                    % TOKEN.replace("5eed", "dead", 1))
        env = protoc_encode(
            "RpcRequest",
            'method: "%s%s" payload: %s request_id: "%s" timeout_ms: 5000 %s'
            % (PREFIX, method, text_bytes(payload), name, meta))
        write(os.path.join(out, "methods", name), payload)
        write(os.path.join(out, "dispatch", name), env)
    for name, data in HOSTILE_DISPATCH:
        write(os.path.join(out, "dispatch", name), data)
    for name, data in HOSTILE_METHODS:
        write(os.path.join(out, "methods", name), data)
    for name, text in OPENDATA.items():
        write(os.path.join(out, "opendata", name), text.encode())
        write(os.path.join(out, "import", name), text.encode())
        write(os.path.join(out, "csv", "od-" + name), text.encode())
    for name, text in CSV.items():
        write(os.path.join(out, "csv", name), text.encode())
    for name, text in TOKENS.items():
        write(os.path.join(out, "tokens", name), text.encode())
    for name, text in CONFIG.items():
        write(os.path.join(out, "config", name), text.encode())
    for i, text in enumerate(PERIODS):
        write(os.path.join(out, "period", "p%02d" % i), text.encode())
    # Parts as the wire carries them: year, quarter, kind (16 bits each).
    for i, (y, q, k) in enumerate([(2024, 1, 2), (2100, 4, 3), (1990, 0, 1),
                                   (2017, 0, 0)]):
        write(os.path.join(out, "period", "parts%d" % i),
              bytes([y & 255, y >> 8, q, 0, k, 0]))


if __name__ == "__main__":
    main()

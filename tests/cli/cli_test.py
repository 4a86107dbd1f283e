#!/usr/bin/env python3
"""CLI tests: a real offstatd on a fresh address, the built offstat.

    cli_test.py --offstat PATH --offstatd PATH --version X.Y.Z [--client-lib PATH] TEST

Each TEST starts its own service (on an ipc:// path in a new temporary
folder, or a free TCP port), runs offstat in every output format and checks
what it prints and how it exits, then stops the service with SIGTERM and
checks that it exited 0. Exit status: 0 pass, 1 fail, 77 skipped.
"""

import argparse
import csv
import io
import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ARGS = None

# Exit codes: liboffstat's values (see docs/CLI.md).
EXIT_USAGE = 2
EXIT_EADDRINVAL = 4
EXIT_ECONNREFUSED = 5
EXIT_ETIMEDOUT = 6
EXIT_EPROTO = 8
EXIT_EFILE = 10
EXIT_EBADINPUT = 11
EXIT_EBADREQUEST = 23
EXIT_ENOTFOUND = 25
EXIT_EPERM = 27
EXIT_EUNAUTHENTICATED = 36

ARROW = "\u2192"


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, what, *context):
    if not cond:
        detail = "\n".join(str(c) for c in context)
        raise Failure(what + ("\n" + detail if detail else ""))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFSTAT_")}
    env.update(extra)
    return env


class Result:
    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        try:
            self.out = proc.stdout.decode("utf-8")
            self.err = proc.stderr.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Failure("offstat printed something that is not UTF-8: %s"
                          % e)

    def __str__(self):
        return "$ offstat %s\n-> exit %d\n--- stdout\n%s--- stderr\n%s" % (
            " ".join(self.argv), self.rc, self.out, self.err)


def offstat(*argv, url=None, env=None, rc=0, timeout=30, stderr_ok=False):
    """Runs offstat; checks its exit code; returns the Result. stderr_ok:
    a success may print diagnostics (ingest's progress lines)."""
    full = list(argv) if url is None else ["-u", url] + list(argv)
    # Bytes, not text: text mode would hide the CRLF that CSV must have.
    proc = subprocess.run([ARGS.offstat] + full, capture_output=True,
                          env=env if env is not None else clean_env(),
                          timeout=timeout, stdin=subprocess.DEVNULL)
    res = Result(full, proc)
    if rc is not None:
        check(res.rc == rc, "expected exit %d" % rc, res)
    if (res.rc == 0 and not stderr_ok and
            not any(a in ("-v", "--verbose") for a in full)):
        check(res.err == "", "a success prints nothing on stderr", res)
    else:
        # Diagnostics go to stderr, each line prefixed.
        for line in res.err.splitlines():
            check(line.startswith("offstat: ") or line.startswith("Try "),
                  "diagnostic without the 'offstat: ' prefix", res)
    return res


def as_json(res):
    try:
        return json.loads(res.out)
    except ValueError as e:
        raise Failure("not valid JSON: %s\n%s" % (e, res))


def as_csv(res):
    # RFC 4180: CRLF line ends, quoted fields where needed.
    check(res.out.endswith("\r\n"), "CSV rows end in CRLF", res)
    rows = list(csv.reader(io.StringIO(res.out, newline="")))
    check(len(rows) >= 1, "a CSV header", res)
    widths = {len(r) for r in rows}
    check(len(widths) == 1, "every CSV row as wide as the header", res)
    return [dict(zip(rows[0], r)) for r in rows[1:]]


class Server:
    """offstatd on a fresh address, stopped with SIGTERM at the end."""

    def __init__(self, tcp=False, extra=()):
        self.dir = tempfile.mkdtemp(prefix="offstat-cli-")
        if tcp:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            self.url = "tcp://127.0.0.1:%d" % port
        else:
            self.url = "ipc://" + os.path.join(self.dir, "offstatd.sock")
        self.log = open(os.path.join(self.dir, "offstatd.log"), "w+")
        # A real reader token, for the tests that send one: a token that
        # is sent must be valid even where reads are open.
        self.token = self.add_token("reader")
        # And a writer token, for ingest.
        self.writer = self.add_token("writer")
        self.proc = subprocess.Popen(
            [ARGS.offstatd, "--listen", self.url, "--db", ":memory:",
             "--data-dir", self.dir] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT, env=clean_env())
        self.stopped = False
        deadline = time.monotonic() + 20
        while True:
            proc = subprocess.run([ARGS.offstat, "-q", "-t", "500", "-u",
                                   self.url, "-o", "json", "info"],
                                  capture_output=True, env=clean_env())
            if proc.returncode == 0:
                break
            if self.proc.poll() is not None:
                raise Failure("offstatd exited %d at start:\n%s" %
                              (self.proc.returncode, self.log_text()))
            if time.monotonic() > deadline:
                raise Failure("offstatd did not answer within 20 s:\n" +
                              self.log_text())
            time.sleep(0.05)

    def add_token(self, role):
        return subprocess.run(
            [ARGS.offstatd, "token", "add", "--role", role, "--data-dir",
             self.dir], capture_output=True, check=True, text=True,
            env=clean_env()).stdout.strip()

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("offstatd ignored SIGTERM for 20 s")
        check(rc == 0, "offstatd exits 0 on SIGTERM, not %d" % rc,
              self.log_text())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.stop()
            elif not self.stopped:
                self.proc.kill()
                self.proc.wait()
        finally:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


# ---- Tests without a service ------------------------------------------------

def test_help():
    res = offstat("--help")
    check(res.out.startswith("Usage: offstat [options] <command> [args]"),
          "usage first", res)
    for word in ("info", "areas", "offences", "sources", "count", "series",
                 "compare", "rank", "chart", "--url", "--token", "--output",
                 "--timeout", "--quiet", "--verbose", "--help", "--version",
                 "--kind", "--parent", "--group", "--source", "--from",
                 "--to", "--quarterly", "--with", "--confidence", "--by",
                 "--base", "--within", "--limit", "--chart", "--svg",
                 "releases", "ingest", "--as-of", "--history", "--all",
                 "--label", "--batch-rows",
                 "OFFSTAT_URL", "OFFSTAT_TOKEN", "Exit status"):
        check(word in res.out, "--help mentions %s" % word, res)
    for line in res.out.splitlines():
        check(len(line) <= 79, "--help fits 79 columns: %r" % line)
    check(offstat("-h").out == res.out, "-h is --help")
    # Help wins over everything else, and a command has its own.
    res = offstat("count", "--help")
    check("count AREA OFFENCE PERIOD [--source ID]" in res.out, "count help",
          res)
    res = offstat("compare", "-h", "-o", "csv")
    check("--from PERIOD --to PERIOD" in " ".join(res.out.split()),
          "compare help", res)
    res = offstat("rank", "--help")
    words = " ".join(res.out.split())
    check("rank OFFENCE PERIOD" in words and "[--by ORDER]" in words and
          "[--base PERIOD]" in words and "[--within AREA]" in words and
          "[--limit N]" in words and "[--confidence LEVEL]" in words,
          "rank help", res)
    res = offstat("chart", "--help")
    check("chart AREA OFFENCE" in res.out and
          "--svg FILE" in " ".join(res.out.split()) and
          "[--svg" not in res.out, "chart help: --svg is required", res)
    res = offstat("ingest", "--help")
    words = " ".join(res.out.split())
    check("ingest FILE... --label TEXT [--source ID] [--batch-rows N]" in
          words and "writer token" in words, "ingest help", res)
    res = offstat("series", "--help")
    check("[--as-of RELEASE]" in res.out and "[--history]" in res.out,
          "series help", res)


def test_version():
    for flag in ("-V", "--version"):
        res = offstat(flag)
        check(res.out == "offstat %s (liboffstat %s)\n" % (ARGS.version,
                                                            ARGS.version),
              "the version line", res)


def test_usage():
    cases = [
        [],
        ["bogus"],
        ["count", "dorset"],
        ["count", "a", "b", "c", "d"],
        ["--kind", "force", "count", "a", "b", "c"],
        ["areas", "--kind", "planet"],
        ["-o", "xml", "info"],
        ["-t", "5x", "info"],
        ["-t", "-1", "info"],
        ["compare", "dorset", "s15a"],
        ["compare", "dorset", "s15a", "--from", "2017/18"],
        ["--nope", "info"],
        ["-Z", "info"],
        ["info", "-u"],
        ["--quarterly=yes", "series", "a", "b"],
        ["sources", "extra"],
        ["compare", "a", "b", "--from", "x", "--to", "y"] +
        ["--with=a"] * 17,
        ["compare", "a", "b", "--from", "x", "--to", "y", "--confidence",
         "2"],
        ["compare", "a", "b", "--from", "x", "--to", "y", "--confidence",
         "high"],
        ["compare", "a", "b", "--from", "x", "--to", "y", "--confidence",
         "0"],
        ["rank", "88A"],
        ["rank", "88A", "2024/25", "--by", "size"],
        ["rank", "88A", "2024/25", "--by", "change"],
        ["rank", "88A", "2024/25", "--base", "2023/24"],
        ["rank", "88A", "2024/25", "--limit", "0"],
        ["rank", "88A", "2024/25", "--limit", "-3"],
        ["rank", "88A", "2024/25", "--quarterly"],
        ["series", "a", "b", "--confidence", "0.99"],
        ["series", "a", "b", "--chart", "-o", "json"],
        ["series", "a", "b", "--svg", "x.svg"],
        ["chart", "dorset", "88A"],
        ["chart", "dorset", "88A", "--svg", ""],
        ["chart", "dorset", "88A", "--svg", "x.svg", "--chart"],
        ["ingest", "x.csv"],
        ["ingest", "--label", "x"],
        ["ingest", "x.csv", "--label", ""],
        ["ingest", "x.csv", "--label", "x", "--batch-rows", "0"],
        ["ingest", "x.csv", "--label", "x", "--batch-rows", "10001"],
        ["ingest", "x.csv", "--label", "x", "--as-of", "1"],
        ["count", "a", "b", "c", "--as-of", "0"],
        ["count", "a", "b", "c", "--as-of", "two"],
        ["count", "a", "b", "c", "--label", "x"],
        ["series", "a", "b", "--history", "--chart"],
        ["count", "a", "b", "c", "--history"],
        ["releases", "--history"],
        ["releases", "extra"],
        ["info", "--all"],
    ]
    for argv in cases:
        # Usage errors come before any connection: no service needed.
        res = offstat(*argv, url="ipc:///nonexistent/offstat.sock",
                      rc=EXIT_USAGE)
        check(res.out == "", "nothing on stdout", res)
        check(res.err.startswith("offstat: "), "a diagnostic", res)
        check("Try 'offstat --help'" in res.err, "a hint", res)


def test_transport():
    tmp = tempfile.mkdtemp(prefix="offstat-cli-")
    try:
        nobody = "ipc://" + os.path.join(tmp, "nobody.sock")
        res = offstat("info", url=nobody, rc=EXIT_ECONNREFUSED)
        check("connection refused" in res.err and nobody in res.err,
              "says what was refused", res)
        res = offstat("-q", "info", url=nobody, rc=EXIT_ECONNREFUSED)
        check(res.err == "", "-q prints nothing", res)
        res = offstat("info", url="bogus://x", rc=EXIT_EADDRINVAL)
        check("bogus://x" in res.err, "names the address", res)

        nngcat = shutil.which("nngcat")
        if nngcat is None:
            raise Skip("nngcat (nng-utils) is not installed: the timeout "
                       "and malformed-reply checks did not run")
        # A REP peer that never answers, and one that answers garbage.
        silent = "ipc://" + os.path.join(tmp, "silent.sock")
        garbage = "ipc://" + os.path.join(tmp, "garbage.sock")
        peers = [
            subprocess.Popen([nngcat, "--rep0", "--listen", silent],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
            subprocess.Popen([nngcat, "--rep0", "--listen", garbage,
                              "--data", "garbage"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
        ]
        try:
            for url in (silent, garbage):
                path = url[len("ipc://"):]
                deadline = time.monotonic() + 10
                while not os.path.exists(path):
                    check(time.monotonic() < deadline, "nngcat started")
                    time.sleep(0.02)
            start = time.monotonic()
            res = offstat("-t", "300", "info", url=silent, rc=EXIT_ETIMEDOUT)
            took = time.monotonic() - start
            check("300 ms" in res.err, "says how long it waited", res)
            check(took < 5, "the timeout is honoured (%.1f s)" % took)
            res = offstat("-t", "0.3s", "info", url=silent,
                          rc=EXIT_ETIMEDOUT)
            res = offstat("info", url=garbage, rc=EXIT_EPROTO)
            check("RpcResponse" in res.err, "says the reply is bad", res)
        finally:
            for p in peers:
                p.terminate()
                p.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- Tests against a service ------------------------------------------------

def test_info():
    with Server() as srv:
        d = as_json(offstat("-o", "json", "info", url=srv.url))
        check(d["version"] == ARGS.version, "service version", d)
        check(d["api"] == "offstat.v1", "api", d)
        check(d["url"] == srv.url, "url", d)
        for key in ("areas", "offences", "sources", "counts"):
            check(isinstance(d[key], int) and d[key] > 0, key, d)
        check(d["release"] != "", "a release", d)
        # JSON is the default when stdout is not a terminal.
        check(as_json(offstat("info", url=srv.url))["api"] == "offstat.v1",
              "json by default")
        rows = as_csv(offstat("-o", "csv", "info", url=srv.url))
        check(len(rows) == 1 and rows[0]["api"] == "offstat.v1" and
              int(rows[0]["areas"]) == d["areas"], "csv row", rows)
        res = offstat("-o", "table", "info", url=srv.url)
        check("offstat.v1" in res.out and srv.url in res.out and
              "%d areas" % d["areas"] in res.out, "table", res)
        res = offstat("-v", "-o", "json", "info", url=srv.url)
        check("ServerInfo answered in" in res.err, "-v reports the call", res)


def test_areas():
    with Server() as srv:
        d = as_json(offstat("-o", "json", "areas", url=srv.url))
        check(d["total"] == len(d["areas"]) and d["total"] >= 43, "all", d)
        dorset = [a for a in d["areas"] if a["code"] == "E23000039"]
        check(len(dorset) == 1 and dorset[0]["name"] == "Dorset" and
              dorset[0]["kind"] == "FORCE" and
              dorset[0]["population"] == 776780 and
              dorset[0]["region_code"] == "E12000009", "Dorset", dorset)
        forces = as_json(offstat("areas", "--kind", "force", url=srv.url))
        check(forces["total"] == 43 and
              all(a["kind"] == "FORCE" for a in forces["areas"]),
              "43 forces", forces["total"])
        sw = as_json(offstat("areas", "--parent", "south west",
                             url=srv.url))
        names = sorted(a["name"] for a in sw["areas"])
        check(names == ["Avon and Somerset", "Devon and Cornwall", "Dorset",
                        "Gloucestershire", "Wiltshire"], "South West", names)
        rows = as_csv(offstat("-o", "csv", "areas", url=srv.url))
        check(len(rows) == d["total"], "a CSV row per area")
        row = [r for r in rows if r["code"] == "E23000039"][0]
        check(row["name"] == "Dorset" and row["kind"] == "FORCE" and
              row["population"] == "776780", "Dorset's row", row)
        res = offstat("-o", "table", "areas", "--kind=region", url=srv.url)
        check("South West" in res.out and "E12000009" in res.out and
              "Dorset" not in res.out, "table", res)
        res = offstat("areas", "--parent", "narnia", url=srv.url,
                      rc=EXIT_ENOTFOUND)


def test_offences():
    with Server() as srv:
        d = as_json(offstat("-o", "json", "offences", url=srv.url))
        check(d["total"] == len(d["offences"]) and d["total"] > 100, "all")
        g = [o for o in d["offences"] if o["code"] == "88A"]
        check(len(g) == 1 and g[0]["description"] == "Sexual grooming" and
              g[0]["breaks"][0]["year"] == 2017 and
              g[0]["breaks"][0]["period"] == "2017/18", "88A", g)
        codes = [o["code"] for o in d["offences"]]
        check("4.1" in codes and "4.10" in codes, "4.1 and 4.10 differ")
        q = as_json(offstat("offences", "grooming", url=srv.url))
        check([o["code"] for o in q["offences"]] == ["88A"], "query", q)
        grp = as_json(offstat("offences", "--group", "sexual offences",
                              url=srv.url))
        check(grp["total"] > 0 and all(o["group"] == "Sexual offences"
                                       for o in grp["offences"]), "group")
        rows = as_csv(offstat("-o", "csv", "offences", url=srv.url))
        row = [r for r in rows if r["code"] == "88A"][0]
        check(row["series_breaks"] == "2017/18" and
              row["group"] == "Sexual offences", "88A's row", row)
        res = offstat("-o", "table", "offences", "grooming", url=srv.url)
        check("88A" in res.out and "Sexual grooming" in res.out and
              "2017/18" in res.out, "table", res)


def test_sources():
    with Server() as srv:
        d = as_json(offstat("-o", "json", "sources", url=srv.url))
        ids = {s["id"]: s for s in d["sources"]}
        check(d["total"] == len(ids), "total")
        check("echo-2021" in ids and "Bournemouth Echo" in
              ids["echo-2021"]["title"] and
              ids["echo-2021"]["kind"] == "PRESS", "echo-2021", ids)
        check(ids["ho-prc-open-data"]["kind"] == "OPEN_DATA", "open data")
        rows = as_csv(offstat("-o", "csv", "sources", url=srv.url))
        check({r["id"] for r in rows} == set(ids), "csv ids")
        res = offstat("-o", "table", "sources", url=srv.url)
        check("echo-2021" in res.out and "Bournemouth Echo" in res.out,
              "table", res)


def test_count():
    with Server() as srv:
        d = as_json(offstat("-o", "json", "count", "dorset", "s15a",
                            "2020/21", url=srv.url))
        v = d["value"]
        check(v["present"] and v["count"] == 62 and
              v["source_id"] == "echo-2021" and
              v["period"]["text"] == "2020/21", "Dorset 2020/21", d)
        check(d["area"]["name"] == "Dorset" and d["offence"]["code"] ==
              "S15A", "resolved names", d)
        check("echo-2021" in [s["id"] for s in d["sources"]],
              "the value's source travels with it", d)

        # Sources that disagree: the preferred figure, flagged, with the
        # other one beside it.
        d = as_json(offstat("count", "E23000039", "S15A", "2018/19",
                            url=srv.url))
        v = d["value"]
        check(v["count"] == 84 and v["flags"] == ["CONFLICT"] and
              v["alternatives"][0]["count"] == 61 and
              v["alternatives"][0]["source_id"] == "echo-2021", "2018/19", v)
        check({"bridport-2019", "echo-2021"} <=
              {s["id"] for s in d["sources"]}, "both sources", d)

        rows = as_csv(offstat("-o", "csv", "count", "dorset", "s15a",
                              "2018/19", url=srv.url))
        check(len(rows) == 1 and rows[0]["count"] == "84" and
              rows[0]["flags"] == "CONFLICT" and
              rows[0]["alternatives"] == "61 echo-2021" and
              rows[0]["source_id"] == "bridport-2019", "csv", rows)

        res = offstat("-o", "table", "count", "dorset", "s15a", "2018/19",
                      url=srv.url)
        for text in ("Dorset (E23000039)", "84", "CONFLICT", "bridport-2019",
                     "also 61 from echo-2021", "Sources:",
                     "Bridport News 2019"):
            check(text in res.out, "table shows %r" % text, res)

        # An aggregate: the sum of the South West's forces, with coverage.
        d = as_json(offstat("count", "south west", "88a", "2024/25 Q1",
                            url=srv.url))
        check(d["value"]["present"] and d["value"]["coverage"] is not None,
              "coverage of an aggregate", d["value"])


def test_series():
    with Server() as srv:
        d = as_json(offstat("-o", "json", "series", "dorset", "s15a",
                            "--from", "2017/18", "--to", "2020/21",
                            url=srv.url))
        check([p["count"] for p in d["points"]] == [37, 84, 61, 62],
              "Dorset's S15A series", d["points"])
        check([p["period"]["text"] for p in d["points"]] ==
              ["2017/18", "2018/19", "2019/20", "2020/21"], "periods")
        check(d["granularity"] == "YEARLY", "yearly")
        q = as_json(offstat("series", "dorset", "88a", "--from",
                            "2024/25 Q1", "--to", "2024/25 Q4",
                            "--quarterly", url=srv.url))
        check([p["count"] for p in q["points"]] == [10, 12, 14, 28],
              "quarters", q["points"])
        check(all(p["source_id"] == "ho-prc-open-data" for p in q["points"]),
              "open data source")
        # Absent points are present: false, never zero.
        full = as_json(offstat("series", "dorset", "s15a", url=srv.url))
        absent = [p for p in full["points"] if not p["present"]]
        check(all(p["count"] is None for p in absent), "absent is null")

        rows = as_csv(offstat("-o", "csv", "series", "dorset", "88a",
                              "--quarterly", "--from", "2024/25 Q1", "--to",
                              "2024/25 Q4", url=srv.url))
        check([r["count"] for r in rows] == ["10", "12", "14", "28"] and
              [r["quarter"] for r in rows] == ["1", "2", "3", "4"], "csv",
              rows)

        res = offstat("-o", "table", "series", "dorset", "s15a", "--from",
                      "2017/18", "--to", "2020/21", url=srv.url)
        for text in ("2017/18", "37", "84", "61", "62", "CONFLICT",
                     "Sources:", "echo-2021"):
            check(text in res.out, "table shows %r" % text, res)
        offstat("series", "dorset", "s15a", "--from", "2020/21", "--to",
                "2017/18", url=srv.url, rc=EXIT_EBADREQUEST)


def test_compare():
    with Server() as srv:
        argv = ["compare", "dorset", "s15a", "--from", "2017/18", "--to",
                "2020/21"]
        res = offstat("-o", "table", *argv, url=srv.url)
        lines = res.out.splitlines()
        d = as_json(offstat("-o", "json", *argv, url=srv.url))
        check(d["summary"] != "" and lines[0] == d["summary"],
              "the service's summary comes first", res)
        check(lines[1] == "Dorset: 37 in 2017/18 %s 62 in 2020/21, +25 "
              "(+67.6%%)" % ARROW, "the headline", res)
        table = "\n".join(lines[2:])
        for text in ("South West", "+67.6%", "(+28.6%)",
                     "+28.6% (2017/18 to 2020/21, echo-2021)", "Sources:",
                     "Bournemouth Echo", "DIFF (PP)", "% CHANGE"):
            check(text in table, "table shows %r" % text, res)
        at = [i for i, l in enumerate(lines) if l.startswith("AREA")][0]
        header, dorset = lines[at], lines[at + 1]
        check(dorset.split()[1:5] == ["37", "62", "+25", "+67.6%"],
              "the subject's row", dorset)
        check(header.split()[1:3] == ["2017/18", "2020/21"], "header", header)

        s = d["subject"]
        check(s["base"]["count"] == 37 and s["end"]["count"] == 62 and
              s["change"] == 25 and abs(s["percent_change"] - 67.5676) < 1e-3
              and s["difference_pp"] is None, "subject", s)
        sw = [c for c in d["comparators"] if c["area"]["name"] ==
              "South West"][0]
        check(sw["base"]["count"] == 377 and sw["end"]["present"] is False
              and sw["change"] is None and
              sw["published_changes"][0]["percent"] == 28.6 and
              sw["published_changes"][0]["source_id"] == "echo-2021",
              "South West", sw)
        for c in d["comparators"]:
            if c["percent_change"] is not None:
                check(abs(c["difference_pp"] - (s["percent_change"] -
                                                c["percent_change"])) < 1e-9,
                      "difference in points", c)
        check("echo-2021" in [x["id"] for x in d["sources"]], "sources")

        rows = as_csv(offstat("-o", "csv", *argv, url=srv.url))
        check(rows[0]["role"] == "subject" and rows[0]["base_count"] == "37"
              and rows[0]["end_count"] == "62" and rows[0]["change"] == "25"
              and rows[0]["percent_change"].startswith("67.567"), "csv",
              rows[0])
        swr = [r for r in rows if r["area_name"] == "South West"][0]
        check("28.6 2017/18 2020/21 echo-2021" in swr["published_changes"],
              "csv published change", swr)

        # Named comparators, and other areas' counts.
        d = as_json(offstat("compare", "south west", "s15a", "--from",
                            "2017/18", "--to", "2021/22", "--with",
                            "england and wales", url=srv.url))
        check(d["subject"]["base"]["count"] == 377 and
              d["subject"]["end"]["count"] == 481 and
              d["subject"]["change"] == 104, "South West", d["subject"])
        check([c["area"]["name"] for c in d["comparators"]] ==
              ["England and Wales"], "only the named comparator")
        res = offstat("-o", "table", "compare", "england and wales", "s15a",
                      "--from", "2017/18", "--to", "2018/19", url=srv.url)
        check("England and Wales: 3217 in 2017/18 %s 4373 in 2018/19, "
              "+1156 (+35.9%%)" % ARROW in res.out, "E&W headline", res)


def test_verdicts():
    """compare's sentence, rates, exact tests and verdicts in words."""
    with Server() as srv:
        argv = ["compare", "dorset", "s15a", "--from", "2017/18", "--to",
                "2020/21"]
        d = as_json(offstat("-o", "json", *argv, url=srv.url))
        res = offstat("-o", "table", *argv, url=srv.url)
        lines = res.out.splitlines()
        check(lines[0] == d["summary"], "the sentence comes first", res)
        check("more than chance would explain at 95% confidence" in
              lines[0], "the sentence at 95%", res)
        check(d["confidence"] == 0.95, "the level", d["confidence"])
        s = d["subject"]
        t = s["change_test"]
        check(t["known"] and abs(t["p_value"] - 0.0154) < 5e-5 and
              abs(t["estimate"] - 62 / 37) < 1e-9 and
              t["lower"] < t["estimate"] < t["upper"] and
              t["confidence"] == 0.95 and t["verdict"] == "rose",
              "Dorset's change test", t)
        check(s["versus_subject"] is None, "no test of the subject "
              "against itself", s)
        people = s["base"]["rates"]["people"]
        check(people["known"] and people["population"] == 776780 and
              abs(people["per_100k"] - 37 / 776780 * 1e5) < 1e-9 and
              people["lower"] < people["per_100k"] < people["upper"],
              "Dorset's 2017/18 rate", people)
        check(s["base"]["rates"]["under18"]["population"] == 144050,
              "the under-18 rate", s["base"]["rates"])
        sw = [c for c in d["comparators"] if c["area"]["name"] ==
              "South West"][0]
        check(not sw["change_test"]["known"] and
              sw["change_test"]["estimate"] is None and
              sw["change_test"]["note"] != "" and
              not sw["versus_subject"]["known"], "untestable", sw)

        at = [i for i, l in enumerate(lines) if l.startswith("AREA")]
        check(len(at) == 2, "a table of figures and one of tests", res)
        header, dorset = lines[at[0]], lines[at[0] + 1]
        check("RATE 2017/18" in header and "RATE 2020/21" in header,
              "rate columns", header)
        check("4.76" in dorset.split() and "7.98" in dorset.split(),
              "Dorset's rates per 100,000", dorset)
        check("Exact tests at 95% confidence:" in res.out, "the level",
              res)
        tests = lines[at[1] + 1]
        check(tests.split()[:7] == ["Dorset", "1.68", "1.10", "to", "2.59",
                                    "0.0154", "rose"], "Dorset's test",
              tests)

        # At 99% the same rise is within what chance alone could produce.
        d99 = as_json(offstat("-o", "json", *argv, "--confidence", "0.99",
                              url=srv.url))
        check(d99["confidence"] == 0.99 and
              d99["subject"]["change_test"]["verdict"] ==
              "no distinguishable change" and
              d99["subject"]["change_test"]["confidence"] == 0.99,
              "at 99%", d99["subject"]["change_test"])
        check(abs(d99["subject"]["change_test"]["p_value"] -
                  t["p_value"]) < 1e-12, "the p-value does not depend on "
              "the level")
        check(d99["subject"]["change_test"]["lower"] < t["lower"],
              "a wider interval")
        res = offstat("-o", "table", *argv, "--confidence", "99%",
                      url=srv.url)
        lines = res.out.splitlines()
        check("within what chance alone could produce" in lines[0] and
              "99% interval 0.97 to 2.96" in lines[0], "the sentence at 99%",
              res)
        check("Exact tests at 99% confidence:" in res.out and
              "99% INTERVAL" in res.out, "the level in the table", res)
        at = [i for i, l in enumerate(lines) if l.startswith("AREA")]
        check(len(at) == 2, "two tables at 99%", res)
        check(lines[at[1] + 1].split()[5:9] ==
              ["0.0154", "no", "distinguishable", "change"],
              "Dorset's verdict at 99%", lines[at[1] + 1])

        # Against a comparator: the subject against the rest of it.
        argv = ["compare", "dorset", "88A", "--from", "2024/25 Q1", "--to",
                "2024/25 Q4"]
        d = as_json(offstat("-o", "json", *argv, url=srv.url))
        check(d["summary"].endswith("The change was higher than that of "
                                    "the rest of the South West (-4.2%) at "
                                    "95% confidence."), "the sentence",
              d["summary"])
        sw = d["comparators"][0]
        v = sw["versus_subject"]
        check(sw["area"]["name"] == "South West" and v["known"] and
              v["verdict"] == "higher than" and v["estimate"] > 1 and
              v["lower"] > 1 and v["p_value"] < 0.01 and
              "rest of the South West" in v["note"], "versus the South West",
              v)
        check(sw["change_test"]["verdict"] == "no distinguishable change",
              "the South West's own change", sw["change_test"])
        res = offstat("-o", "table", *argv, url=srv.url)
        lines = res.out.splitlines()
        check(lines[0] == d["summary"], "the sentence first", res)
        at = [i for i, l in enumerate(lines) if l.startswith("AREA")]
        check(len(at) == 2, "two tables", res)
        check("DORSET'S CHANGE WAS" in lines[at[1]], "the verdict column",
              lines[at[1]])
        row = lines[at[1] + 2]
        check(row.startswith("South West") and
              row.rstrip().endswith("higher than") and
              "no distinguishable change" in row and "3.26" in row and
              "0.0017" in row, "the South West's row", row)
        check("tested: Dorset's change against the rest of the South West"
              in res.out, "what was tested", res)
        # A comparator whose change differs by chance alone.
        d = as_json(offstat("-o", "json", "compare", "wiltshire", "88A",
                            "--from", "2024/25 Q1", "--to", "2024/25 Q4",
                            "--with", "south west", url=srv.url))
        check(d["comparators"][0]["versus_subject"]["verdict"] ==
              "not distinguishable from", "Wiltshire",
              d["comparators"][0]["versus_subject"])
        res = offstat("-o", "table", "compare", "wiltshire", "88A", "--from",
                      "2024/25 Q1", "--to", "2024/25 Q4", "--with",
                      "south west", url=srv.url)
        check("not distinguishable from" in res.out and
              "WILTSHIRE'S CHANGE WAS" in res.out, "Wiltshire's table", res)

        rows = as_csv(offstat("-o", "csv", *argv, url=srv.url))
        check(rows[0]["verdict"] == "rose" and
              abs(float(rows[0]["p_value"]) - 0.0050976) < 1e-6 and
              rows[0]["versus_subject_verdict"] == "" and
              rows[1]["versus_subject_verdict"] == "higher than" and
              float(rows[0]["base_rate_per_100k"]) > 1.28 and
              rows[0]["base_population"] == "776780" and
              rows[1]["confidence"] == "0.95", "csv", rows[:2])
        offstat("compare", "dorset", "s15a", "--from", "2017/18", "--to",
                "2020/21", "--confidence", "0.2", url=srv.url,
                rc=EXIT_EBADREQUEST)


CAUTION = "A ranking of forces is not a ranking of safety"


def test_rank():
    with Server() as srv:
        argv = ["rank", "88A", "2024/25", "--within", "south west"]
        res = offstat("-o", "table", *argv, url=srv.url)
        lines = res.out.splitlines()
        at = [i for i, l in enumerate(lines) if l.startswith("RANK")]
        check(len(at) == 1, "a table", res)
        at = at[0]
        check(lines[at].split()[:5] == ["RANK", "AREA", "COUNT", "95%",
                                        "INTERVAL"], "header", lines[at])
        rows = lines[at + 1:at + 6]
        check(rows[0].split()[:4] == ["1", "Avon", "and", "Somerset"] and
              rows[0].split()[4] == "281", "Avon and Somerset first", res)
        check(rows[4].split()[:3] == ["5", "Wiltshire", "61"] and
              lines[at + 6] == "", "Wiltshire last", res)
        check("249.1 to 315.9" in rows[0], "the count's interval", rows[0])
        check("Caution:" in res.out and CAUTION in " ".join(res.out.split())
              and res.out.index("Caution:") > res.out.index("Wiltshire"),
              "the caution under the table", res)
        check("Not ranked" not in res.out, "nothing missing", res)

        d = as_json(offstat("-o", "json", *argv, url=srv.url))
        check([(a["rank"], a["area"]["name"], a["value"]["count"])
               for a in d["areas"]] ==
              [(1, "Avon and Somerset", 281), (2, "Devon and Cornwall", 224),
               (3, "Gloucestershire", 90), (4, "Dorset", 64),
               (5, "Wiltshire", 61)], "the order", d["areas"])
        check(d["by"] == "COUNT" and d["confidence"] == 0.95 and
              CAUTION in d["caution"] and d["missing"] == [] and
              d["offence"]["code"] == "88A", "the reply", d)
        a = d["areas"][0]
        check(a["score"] == 281 and a["lower"] < 281 < a["upper"] and
              a["trend"] is None and
              a["value"]["rates"]["people"]["known"], "a ranked area", a)

        # Every English force: those without figures are listed apart.
        d = as_json(offstat("-o", "json", "rank", "88A", "2024/25",
                            "--within", "england", url=srv.url))
        check(len(d["missing"]) == 34 and len(d["areas"]) == 5,
              "34 forces missing", len(d["missing"]))
        res = offstat("-o", "table", "rank", "88A", "2024/25", "--within",
                      "england", url=srv.url)
        words = " ".join(res.out.split())
        check("Not ranked, without the figures (34):" in words and
              "Metropolitan Police" in words and "City of London" in words,
              "the missing forces", res)
        rows = as_csv(offstat("-o", "csv", "rank", "88A", "2024/25",
                              "--within", "england", url=srv.url))
        check(len(rows) == 39 and
              sum(r["ranked"] == "false" for r in rows) == 34 and
              rows[0]["count"] == "281" and rows[0]["rank"] == "1",
              "csv: ranked and missing rows", rows[:2])
        d = as_json(offstat("rank", "88A", "2024/25", "--within", "england",
                            "--limit", "2", url=srv.url))
        check(len(d["areas"]) == 2 and len(d["missing"]) == 34, "--limit")

        # By rate, and by change with its test.
        d = as_json(offstat("rank", "88A", "2024/25", "--within",
                            "south west", "--by", "rate", url=srv.url))
        scores = [a["score"] for a in d["areas"]]
        check(d["by"] == "RATE" and scores == sorted(scores, reverse=True)
              and d["areas"][0]["area"]["name"] == "Avon and Somerset" and
              abs(scores[0] - 281 / 1729464 * 1e5) < 1e-6, "by rate", d)
        d = as_json(offstat("rank", "88A", "2024/25", "--within",
                            "south west", "--by", "rate-u18", url=srv.url))
        check(d["by"] == "RATE_UNDER18", "by the under-18 rate", d["by"])
        argv = ["rank", "88A", "2024/25 Q4", "--by", "change", "--base",
                "2024/25 Q1", "--within", "south west"]
        d = as_json(offstat(*argv, "--confidence", "0.99", url=srv.url))
        top = d["areas"][0]
        check(d["by"] == "CHANGE" and d["confidence"] == 0.99 and
              top["area"]["name"] == "Dorset" and top["score"] == 180 and
              top["trend"]["change_test"]["verdict"] == "rose" and
              top["trend"]["base"]["count"] == 10, "by change", top)
        res = offstat("-o", "table", *argv, url=srv.url)
        check("% CHANGE" in res.out and "+180.0%" in res.out and
              "no distinguishable change" in res.out and
              "2024/25 Q1" in res.out, "the change table", res)
        regions = as_json(offstat("rank", "88A", "2024/25", "--kind",
                                  "region", url=srv.url))
        kinds = ([a["area"]["kind"] for a in regions["areas"]] +
                 [m["kind"] for m in regions["missing"]])
        check(kinds == ["REGION"] * 9, "the nine regions", kinds)
        offstat("rank", "88A", "2024/25", "--within", "narnia", url=srv.url,
                rc=EXIT_ENOTFOUND)


def bar_lines(out):
    """The lines of a terminal chart that start with a period label."""
    return [l for l in out.splitlines() if l[:4].isdigit() and "/" in l[:8]]


def test_chart_bars():
    with Server() as srv:
        utf8 = clean_env(LC_ALL="C.UTF-8", COLUMNS="80")
        argv = ["series", "england and wales", "88A", "--from", "2016/17",
                "--to", "2018/19", "--chart"]
        res = offstat(*argv, url=srv.url, env=utf8)
        lines = res.out.splitlines()
        bars = bar_lines(res.out)
        check([b.split()[0] for b in bars] == ["2016/17", "2017/18",
                                              "2018/19"], "one bar a period",
              res)
        check("1156" in bars[0] and "█" in bars[0], "the bar", res)
        check(bars[1].split()[1:] == ["no", "figure"] and
              bars[2].split()[1:] == ["no", "figure"], "no figure", res)
        markers = [i for i, l in enumerate(lines) if "series break" in l and
                   "2017/18" in l]
        check(len(markers) == 1, "one break marker", res)
        marker = markers[0]
        check(lines[marker + 1].startswith("2017/18") and
              lines[marker - 1].startswith("2016/17"),
              "the break marked before 2017/18", res)
        check("Series break from 2017/18:" in res.out, "what changed", res)
        for line in lines[:marker + 3]:
            check(len(line) <= 79, "fits 80 columns: %r" % line)

        # Small numbers, scaled bars, ASCII outside a UTF-8 locale.
        argv = ["series", "wiltshire", "88A", "--quarterly", "--from",
                "2024/25 Q1", "--to", "2024/25 Q4", "--chart"]
        res = offstat(*argv, url=srv.url,
                      env=clean_env(LC_ALL="C", COLUMNS="60"))
        bars = bar_lines(res.out)
        check(len(bars) == 4 and all(ord(c) < 128 for c in res.out),
              "ASCII", res)
        q2 = bars[1]
        check(q2.split()[:3] == ["2024/25", "Q2", "9*"], "9 is marked", q2)
        check("* small number" in res.out, "what the mark means", res)
        widths = [b.count("#") for b in bars]
        check(all(len(b) <= 59 for b in bars), "fits 60 columns", bars)
        check(widths[0] == max(widths) and
              abs(widths[1] / widths[0] - 9 / 22) < 0.05 and
              abs(widths[3] / widths[0] - 17 / 22) < 0.05,
              "bars in proportion", widths)
        res = offstat(*argv, url=srv.url,
                      env=clean_env(LC_ALL="C.UTF-8", COLUMNS="120"))
        wide = bar_lines(res.out)
        check(all(len(b) <= 119 for b in wide) and
              len(wide[0]) > len(bars[0]) + 40, "scaled to $COLUMNS", res)
        check("█" in wide[0] and "#" not in wide[0], "blocks", res)
        # --chart is for people: json does not mix with it.
        offstat("-o", "json", *argv, url=srv.url, rc=EXIT_USAGE)


SVG = "{http://www.w3.org/2000/svg}"


def svg_parse(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise Failure("%s is not XML: %s" % (path, e))
    check(root.tag == SVG + "svg" and root.get("version") == "1.1" and
          root.get("viewBox", "").startswith("0 0 "), "an SVG 1.1 root",
          root.attrib)
    return root


def svg_class(root, cls):
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def svg_texts(elems):
    return ["".join(e.itertext()) for e in elems]


def test_chart_svg():
    with Server() as srv:
        tmp = tempfile.mkdtemp(prefix="offstat-svg-")
        try:
            path = os.path.join(tmp, "dorset.svg")
            res = offstat("-o", "json", "chart", "dorset", "88A", "--from",
                          "2024/25 Q1", "--to", "2024/25 Q4", "--quarterly",
                          "--svg", path, url=srv.url)
            d = as_json(res)
            check(d["file"] == path and d["measure"] == "rate_per_100k" and
                  d["bands"] is True and
                  [l["name"] for l in d["lines"]] ==
                  ["Dorset", "South West", "England"], "what was drawn", d)
            root = svg_parse(path)
            lines = svg_class(root, "line")
            check(len(lines) == 3 and all(e.tag == SVG + "path" for e in
                                          lines), "three lines", lines)
            check(len({e.get("stroke") for e in lines}) == 3,
                  "a colour each")
            bands = svg_class(root, "band")
            check(len(bands) == 3 and all(e.get("fill-opacity") for e in
                                          bands), "three bands", bands)
            check(len(svg_class(root, "point")) == 12, "four points a line")
            check(svg_class(root, "series-break") == [], "no break here")
            title = svg_texts(svg_class(root, "title"))
            check(len(title) == 1 and "Sexual grooming (88A)" in title[0]
                  and "Dorset" in title[0], "the title", title)
            check(root.find(SVG + "title") is not None, "an SVG <title>")
            legend = " ".join(svg_texts(svg_class(root, "legend-item")))
            for name in ("Dorset", "South West", "England"):
                check(name in legend, "the legend names %s" % name, legend)
            notes = " ".join(svg_texts(svg_class(root, "legend-note")))
            check("95% Poisson interval" in notes, "the band explained",
                  notes)
            axes = " ".join(svg_texts(svg_class(root, "axis-title")))
            check("per 100,000 people" in axes, "rates on the y axis", axes)
            periods = svg_texts(svg_class(root, "period"))
            check(periods == ["2024/25 Q1", "2024/25 Q2", "2024/25 Q3",
                              "2024/25 Q4"], "period labels", periods)
            footer = " ".join(svg_texts(svg_class(root, "footer")))
            check("ho-prc-open-data" in footer and "Home Office" in footer,
                  "sources in the footer", footer)
            # Each band spans its line: the exact interval of each rate.
            check(len(bands[0].get("d").split("L")) == 8,
                  "a band over four points", bands[0].get("d"))

            # The break, by default periods, with one line only.
            path = os.path.join(tmp, "ew.svg")
            res = offstat("-o", "table", "chart", "england and wales", "88A",
                          "--from", "2016/17", "--to", "2018/19", "--svg",
                          path, url=srv.url)
            check(res.out.startswith("Wrote %s" % path), "says what it "
                  "wrote", res)
            root = svg_parse(path)
            brk = svg_class(root, "series-break")
            check(len(brk) == 1 and brk[0].tag == SVG + "line" and
                  brk[0].get("stroke-dasharray"), "a dashed break line", brk)
            label = svg_texts(svg_class(root, "series-break-label"))
            check(len(label) == 1 and "2017/18" in label[0], "labelled",
                  label)
            x = float(brk[0].get("x1"))
            pts = svg_class(root, "point")
            check(len(pts) == 1 and float(pts[0].get("cx")) < x,
                  "2016/17 before the break", pts)

            # Counts when a population is unknown; small numbers marked.
            path = os.path.join(tmp, "wilts.svg")
            d = as_json(offstat("chart", "wiltshire", "88A", "--quarterly",
                                "--from", "2024/25 Q1", "--with",
                                "united kingdom", "--svg", path,
                                url=srv.url))
            check(d["measure"] == "count", "counts", d)
            root = svg_parse(path)
            axes = " ".join(svg_texts(svg_class(root, "axis-title")))
            check("counts" in axes, "the axis says counts", axes)
            check(len(svg_class(root, "small-number")) == 1,
                  "Wiltshire's 9 is ringed")
            notes = " ".join(svg_texts(svg_class(root, "legend-note")))
            check("small number" in notes and "Counts, not rates" in notes,
                  "the legend says so", notes)

            # To stdout, and a file that cannot be written.
            res = offstat("chart", "dorset", "s15a", "--svg", "-",
                          url=srv.url)
            check(res.out.startswith("<?xml"), "SVG on stdout", res)
            res = offstat("chart", "dorset", "s15a", "--svg",
                          os.path.join(tmp, "no", "such", "dir.svg"),
                          url=srv.url, rc=1)
            check("cannot write" in res.err, "says so", res)
            offstat("chart", "narnia", "s15a", "--svg",
                    os.path.join(tmp, "n.svg"), url=srv.url,
                    rc=EXIT_ENOTFOUND)
            check(not os.path.exists(os.path.join(tmp, "n.svg")),
                  "no file for a failed call")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def test_errors():
    with Server() as srv:
        res = offstat("count", "narnia", "s15a", "2018/19", url=srv.url,
                      rc=EXIT_ENOTFOUND)
        check(res.out == "" and "narnia" in res.err, "unknown area", res)
        res = offstat("-o", "table", "compare", "narnia", "s15a", "--from",
                      "2017/18", "--to", "2020/21", url=srv.url,
                      rc=EXIT_ENOTFOUND)
        res = offstat("count", "dorset", "burglary", "2018/19", url=srv.url,
                      rc=EXIT_EBADREQUEST)
        check(len(res.err.splitlines()) > 2 and
              "offstat:   " in res.err, "the service's details", res)
        res = offstat("count", "dorset", "s15a", "2017/19", url=srv.url,
                      rc=EXIT_EBADREQUEST)
        check("2017/19" in res.err, "names the bad period", res)
        res = offstat("-q", "count", "narnia", "s15a", "2018/19",
                      url=srv.url, rc=EXIT_ENOTFOUND)
        check(res.err == "", "-q prints nothing", res)
        res = offstat("-v", "count", "narnia", "s15a", "2018/19",
                      url=srv.url, rc=EXIT_ENOTFOUND)
        check("status 5" in res.err and "ENOTFOUND" in res.err,
              "-v names the status", res)
        res = offstat("count", "dorset", "s15a", "2018/19", "--source",
                      "no-such-source", url=srv.url, rc=None)
        check(res.rc in (0, EXIT_ENOTFOUND), "an unknown source", res)


def test_env():
    with Server(tcp=True) as srv:
        # OFFSTAT_URL when there is no -u; -u wins over it.
        d = as_json(offstat("count", "dorset", "s15a", "2017/18",
                            env=clean_env(OFFSTAT_URL=srv.url)))
        check(d["value"]["count"] == 37, "over tcp via OFFSTAT_URL", d)
        offstat("info", env=clean_env(OFFSTAT_URL="ipc:///nonexistent/x"),
                url=srv.url)
        res = offstat("-v", "info", env=clean_env(OFFSTAT_URL=srv.url,
                                                  OFFSTAT_TOKEN=srv.token))
        check("with a token" in res.err and srv.token not in res.err,
              "-v says a token is sent, never what it is", res)
        res = offstat("--token", srv.token, "-v", "info", url=srv.url)
        check("with a token" in res.err, "--token", res)
        # A token the service does not know is refused, with its own exit.
        res = offstat("--token", "s3cret", "info", url=srv.url,
                      rc=EXIT_EUNAUTHENTICATED)
        res = offstat("--token", "bad\nvalue", "info", url=srv.url,
                      rc=EXIT_USAGE)


# ---- Releases and ingest (issue 4) ------------------------------------------

OPEN_DATA_HEADER = ["Financial Year", "Financial Quarter", "Force Name",
                    "Offence Description", "Offence Group",
                    "Offence Subgroup", "Offence Code", "Number of Offences"]


def write_open_data(path, rows):
    """A file in the Home Office open data format (quoted as csv does)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(OPEN_DATA_HEADER)
        w.writerows(rows)
    return path


def dorset_88a(counts, year="2024/25"):
    """Dorset's 88A quarters of a year; the bundled 2024/25 values are 10,
    12, 14 and 28."""
    return [[year, str(q), "Dorset", "Sexual grooming", "Sexual offences",
             "Other sexual offences", "88A", str(c)]
            for q, c in zip((1, 2, 3, 4), counts)]


def progress_lines(res):
    """ingest's plain progress lines on stderr: (sent, total) pairs."""
    out = []
    for line in res.err.splitlines():
        if " rows sent (" in line:
            words = line.split()
            out.append((int(words[2].replace(",", "")),
                        int(words[4].replace(",", ""))))
    return out


def test_ingest():
    with Server() as srv:
        writer = clean_env(OFFSTAT_TOKEN=srv.writer)
        path = write_open_data(os.path.join(srv.dir, "dorset.csv"),
                               dorset_88a([11, 13, 15, 64]))
        res = offstat("-o", "json", "ingest", path, "--label",
                      "Dorset 88A, revised", url=srv.url, env=writer,
                      stderr_ok=True)
        d = as_json(res)
        rel = d["release"]
        check(rel > 1 and d["state"] == "COMMITTED" and d["rows"] == 4 and
              d["batches"] == 1 and d["changed"] == 4 and
              d["files"] == [path] and d["label"] == "Dorset 88A, revised"
              and d["served_release"] == str(rel) and d["retries"] == 0 and
              d["splits"] == 0 and d["elapsed_seconds"] >= 0,
              "the summary", d)
        # Not a terminal: a plain line for each batch.
        check(progress_lines(res) == [(4, 4)] and
              "4 rows to send" in res.err, "progress lines", res)

        # The release is listed, newest first, and served.
        r = as_json(offstat("releases", url=srv.url))
        top = r["releases"][0]
        check(r["release"] == str(rel) and r["total"] == len(r["releases"])
              and top["id"] == rel and top["state"] == "COMMITTED" and
              top["label"] == "Dorset 88A, revised" and top["rows"] == 4 and
              top["changed"] == 4 and top["loaded_by"].startswith("ost_")
              and top["source_id"] == "ho-prc-open-data" and
              top["committed_at"].endswith("Z") and
              r["releases"][-1]["id"] == 1, "releases", r)
        res = offstat("-o", "table", "releases", url=srv.url)
        check(res.out.split("\n")[0].split() ==
              ["ID", "STATE", "COMMITTED", "LABEL", "SOURCE", "ROWS",
               "CHANGED", "BY"] and "Dorset 88A, revised" in res.out and
              "committed" in res.out and
              "readers see release %d" % rel in res.out, "table", res)
        rows = as_csv(offstat("-o", "csv", "releases", url=srv.url))
        check(rows[0]["id"] == str(rel) and rows[0]["state"] == "COMMITTED"
              and rows[0]["rows"] == "4", "csv", rows)

        # The new figure, flagged; and the old one as of release 1.
        c = as_json(offstat("count", "dorset", "88A", "2024/25 Q4",
                            url=srv.url))
        check(c["value"]["count"] == 64 and "REVISED" in c["value"]["flags"]
              and c["release"] == str(rel), "the revised figure", c)
        c = as_json(offstat("count", "dorset", "88A", "2024/25 Q4",
                            "--as-of", "1", url=srv.url))
        check(c["value"]["count"] == 28 and c["release"] == "1" and
              "REVISED" not in c["value"]["flags"], "as of release 1", c)
        res = offstat("-o", "table", "count", "dorset", "88A", "2024/25 Q4",
                      url=srv.url)
        check("REVISED" in res.out and "Release: %d" % rel in res.out,
              "the table says REVISED", res)
        offstat("count", "dorset", "88A", "2024/25 Q4", "--as-of", "999",
                url=srv.url, rc=EXIT_ENOTFOUND)

        # The series and its history.
        argv = ["series", "dorset", "88A", "--quarterly", "--from",
                "2024/25 Q1", "--to", "2024/25 Q4"]
        s = as_json(offstat(*argv, "--as-of", "1", url=srv.url))
        check([p["count"] for p in s["points"]] == [10, 12, 14, 28] and
              s["release"] == "1", "the series as of 1", s["points"])
        s = as_json(offstat(*argv, "--history", url=srv.url))
        hist = [[(v["release"], v["count"]) for v in p["revisions"]]
                for p in s["points"]]
        check(hist == [[(1, 10), (rel, 11)], [(1, 12), (rel, 13)],
                       [(1, 14), (rel, 15)], [(1, 28), (rel, 64)]],
              "each point's revisions, oldest first", hist)
        check(s["points"][3]["revisions"][1]["release_label"] ==
              "Dorset 88A, revised", "labelled", s["points"][3])
        plain = as_json(offstat(*argv, url=srv.url))
        check(all(p["revisions"] == [] for p in plain["points"]),
              "no history unless asked", plain["points"])
        res = offstat("-o", "table", *argv, "--history", url=srv.url)
        check("REVISIONS" in res.out and
              "64 (release %d) \u2190 28 (release 1)" % rel in res.out,
              "the table shows both", res)
        rows = as_csv(offstat("-o", "csv", *argv, "--history", url=srv.url))
        check(rows[3]["revisions"] == "1:28;%d:64" % rel and
              rows[3]["count"] == "64", "csv revisions", rows)

        # --as-of on compare and rank.
        argv = ["compare", "dorset", "88A", "--from", "2024/25 Q1", "--to",
                "2024/25 Q4"]
        d = as_json(offstat(*argv, url=srv.url))
        check(d["subject"]["end"]["count"] == 64 and
              d["release"] == str(rel), "compare, latest", d["subject"])
        d = as_json(offstat(*argv, "--as-of", "1", url=srv.url))
        check(d["subject"]["end"]["count"] == 28 and d["release"] == "1",
              "compare as of 1", d["subject"])
        argv = ["rank", "88A", "2024/25 Q4", "--within", "south west"]
        for as_of, want in ((None, 64), ("1", 28)):
            extra = [] if as_of is None else ["--as-of", as_of]
            d = as_json(offstat(*argv, *extra, url=srv.url))
            dorset = [a for a in d["areas"]
                      if a["area"]["name"] == "Dorset"]
            check(dorset and dorset[0]["value"]["count"] == want,
                  "rank as of %s" % as_of, d["areas"])

        # --token, two files, one release; the table of a load.
        a = write_open_data(os.path.join(srv.dir, "a.csv"),
                            dorset_88a([1, 2, 3, 4], year="2023/24"))
        b = write_open_data(os.path.join(srv.dir, "b.csv"),
                            dorset_88a([5, 6, 7, 8], year="2022/23"))
        res = offstat("-o", "table", "--token", srv.writer, "ingest", a, b,
                      "--label", "two years", url=srv.url, stderr_ok=True)
        lines = res.out.splitlines()
        check(lines[0] == "Release  %d (two years), committed" % (rel + 1)
              and lines[1] == "Rows     8 in 2 batches from 2 files" and
              lines[2] == "Changed  8 figures" and
              lines[3].startswith("Elapsed  ") and
              lines[4] == "Serving  release %d" % (rel + 1), "table", res)
        rows = as_csv(offstat("-o", "csv", "--token", srv.writer, "ingest",
                              a, "--label", "again", url=srv.url,
                              stderr_ok=True))
        check(rows[0]["state"] == "COMMITTED" and rows[0]["rows"] == "4" and
              rows[0]["changed"] == "0" and rows[0]["files"] == a,
              "the same rows again change nothing", rows)
        # -q: nothing on stderr.
        res = offstat("-q", "ingest", a, "--label", "quiet", url=srv.url,
                      env=writer)
        check(res.err == "", "-q", res)


def test_ingest_errors():
    with Server() as srv:
        writer = clean_env(OFFSTAT_TOKEN=srv.writer)
        before = as_json(offstat("--token", srv.writer, "releases", "--all",
                                 url=srv.url))["total"]

        # Rows the service refuses: each named by its line; the release
        # is aborted, nothing committed.
        rows = dorset_88a([11, 13, 15, 64])
        rows[1][2] = "Narnia"
        rows[2][1] = "5"
        bad = write_open_data(os.path.join(srv.dir, "bad.csv"), rows)
        res = offstat("ingest", bad, "--label", "bad rows", url=srv.url,
                      env=writer, rc=EXIT_EBADREQUEST)
        check("bad.csv line 3: Force Name 'Narnia' is not a known force" in
              res.err and "bad.csv line 4: Financial Quarter '5'" in res.err
              and "refused 2 rows" in res.err and "aborted" in res.err and
              res.out == "", "names the bad rows", res)
        r = as_json(offstat("--token", srv.writer, "releases", "--all",
                            url=srv.url))
        top = r["releases"][0]
        check(r["total"] == before + 1 and top["state"] == "ABORTED" and
              top["label"] == "bad rows" and top["committed_at"] == "",
              "the release was aborted", top)
        committed = as_json(offstat("releases", url=srv.url))
        check(all(x["state"] == "COMMITTED" for x in committed["releases"])
              and committed["release"] == "1", "nothing committed",
              committed)
        c = as_json(offstat("count", "dorset", "88A", "2024/25 Q4",
                            url=srv.url))
        check(c["value"]["count"] == 28, "the old figure stands", c)
        res = offstat("-o", "table", "--token", srv.writer, "releases",
                      "--all", url=srv.url)
        check("aborted" in res.out and "bad rows" in res.out, "table", res)
        before += 1

        # A row twice: the service names the first by its line in the
        # batch; the command by its line in the file.
        dup = os.path.join(srv.dir, "dup.csv")
        with open(dup, "w") as f:
            f.write(",".join(OPEN_DATA_HEADER) + "\n\n\n")
            for q, c in ((1, 11), (2, 12), (1, 13)):
                f.write("2024/25,%d,Dorset,Sexual grooming,Sexual offences,"
                        "Other sexual offences,88A,%d\n" % (q, c))
        res = offstat("ingest", dup, "--label", "twice", url=srv.url,
                      env=writer, rc=EXIT_EBADREQUEST)
        check("dup.csv line 6: same force, code and quarter as line 4 "
              "(Dorset, 88A, 2024/25 Q1)" in res.err, "file lines", res)
        before += 1

        # A count that is not a number cannot be sent: the file is refused
        # before anything is opened.
        rows = dorset_88a([11, 13, 15, 64])
        rows[1][7] = "x"
        rows[2][2] = "Narnia"
        badx = write_open_data(os.path.join(srv.dir, "badx.csv"), rows)
        with open(badx, "a") as f:
            f.write('2024/25,1,"Dorset"x,Sexual grooming,Sexual offences,'
                    'Other sexual offences,88A,3\n')
        res = offstat("ingest", badx, "--label", "x", url=srv.url,
                      env=writer, rc=EXIT_EBADINPUT)
        check("badx.csv line 3: Number of Offences 'x' is not a whole "
              "number" in res.err and "badx.csv line 6: field 3: text after "
              "closing quote" in res.err and "nothing was sent" in res.err,
              "names the rows", res)
        r = as_json(offstat("--token", srv.writer, "releases", "--all",
                            url=srv.url))
        check(r["total"] == before, "no release opened", r)

        # Files that are not open data, or not there.
        other = os.path.join(srv.dir, "other.csv")
        with open(other, "w") as f:
            f.write("a,b,c\n1,2,3\n")
        res = offstat("ingest", other, "--label", "x", url=srv.url,
                      env=writer, rc=EXIT_EBADINPUT)
        check("not the open data header" in res.err, "the header", res)
        res = offstat("ingest", os.path.join(srv.dir, "none.csv"), "--label",
                      "x", url=srv.url, env=writer, rc=EXIT_EFILE)
        check("none.csv" in res.err and "No such file" in res.err,
              "a missing file", res)

        # Writes need a writer token.
        good = write_open_data(os.path.join(srv.dir, "good.csv"),
                               dorset_88a([1, 2, 3, 4]))
        res = offstat("ingest", good, "--label", "x", url=srv.url,
                      rc=EXIT_EUNAUTHENTICATED, stderr_ok=True)
        check("writer token" in res.err and "OFFSTAT_TOKEN" in res.err,
              "says what is needed", res)
        res = offstat("--token", srv.token, "ingest", good, "--label", "x",
                      url=srv.url, rc=EXIT_EPERM)
        check("reader token" in res.err, "a reader token", res)
        res = offstat("--token", "ost_00000000_nope", "ingest", good,
                      "--label", "x", url=srv.url, rc=EXIT_EUNAUTHENTICATED)
        res = offstat("releases", "--all", url=srv.url, rc=EXIT_EPERM)
        check("writer token" in res.err, "--all needs a writer", res)
        r = as_json(offstat("--token", srv.writer, "releases", "--all",
                            url=srv.url))
        check(r["total"] == before, "nothing opened without a writer", r)


def long_rows(url, year, codes):
    """43 forces x 4 quarters x codes rows with long texts: about 160
    bytes each on the wire."""
    forces = [a["name"] for a in
              as_json(offstat("areas", "--kind", "force", url=url))["areas"]]
    rows = []
    for k in range(codes):
        for q in (1, 2, 3, 4):
            for f in forces:
                rows.append([year, str(q), f,
                             "A long offence description, as the open "
                             "data writes some of them, number %d" % k,
                             "Miscellaneous crimes against society",
                             "Miscellaneous crimes against society",
                             "T%02d" % k, str((k * 7 + q) % 50)])
    return rows


def test_ingest_batches():
    # A request limit under OFFSTAT_INGEST_BATCH_BYTES: the first batch is
    # refused as too large, halved, and later batches keep to the half.
    with Server(extra=["--max-request", "300000"]) as srv:
        writer = clean_env(OFFSTAT_TOKEN=srv.writer)
        big = write_open_data(os.path.join(srv.dir, "big.csv"),
                              long_rows(srv.url, "2024/25", 40))
        small = write_open_data(os.path.join(srv.dir, "small.csv"),
                                dorset_88a([1, 2, 3, 4], year="2023/24"))
        res = offstat("-o", "json", "ingest", big, small, "--label",
                      "6880 + 4 rows", url=srv.url, env=writer,
                      stderr_ok=True)
        d = as_json(res)
        check(d["rows"] == 6884 and d["splits"] >= 1 and d["batches"] >= 4
              and d["state"] == "COMMITTED" and d["files"] == [big, small],
              "halved and sent", d)
        sent = progress_lines(res)
        check(sent[-1] == (6884, 6884) and
              all(a[0] < b[0] for a, b in zip(sent, sent[1:])) and
              len(sent) == d["batches"], "progress per batch", res)
        r = as_json(offstat("releases", url=srv.url))
        check(r["releases"][0]["rows"] == 6884 and
              r["releases"][0]["id"] == d["release"], "all rows counted", r)

        # Rows per batch: 6880 in batches of 1000, and the small file.
        d = as_json(offstat("ingest", big, small, "--label", "again",
                            "--batch-rows", "1000", url=srv.url,
                            env=writer, stderr_ok=True))
        check(d["batches"] == 8 and d["splits"] == 0 and d["rows"] == 6884,
              "--batch-rows", d)

        # On a terminal, a bar redrawn in place.
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [ARGS.offstat, "-u", srv.url, "-o", "json", "ingest", big,
             "--label", "tty", "--batch-rows", "2000"],
            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
            env=writer)
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        out = proc.communicate(timeout=60)[0]
        os.close(master)
        text = err.decode("utf-8")
        check(proc.returncode == 0 and json.loads(out)["rows"] == 6880,
              "the load", text)
        draws = [d for d in text.split("\r") if d.strip()]
        check(len(draws) >= 5 and "] 0/6,880 rows   0%" in draws[0] and
              all(d.startswith("offstat: [") for d in draws) and
              "[####################] 6,880/6,880 rows 100%" in draws[-1]
              and "rows/s" in draws[-1] and text.endswith("\n") and
              all(len(d.rstrip("\n")) <= 79 for d in draws),
              "a progress bar on a terminal", text)


def test_client_lib():
    if not ARGS.client_lib:
        raise Skip("no client_lib program given")
    with Server() as srv:
        proc = subprocess.Popen([ARGS.client_lib, srv.url, srv.token,
                                 srv.writer],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            if line != "ready\n":
                out, err = proc.communicate(timeout=30)
                raise Failure("client_lib failed before its last check:\n"
                              + line + out + err)
            # The service goes away under a live client.
            srv.stop()
            out, err = proc.communicate("go\n", timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        check(proc.returncode == 0, "client_lib exits 0", out, err)


TESTS = {name[len("test_"):]: fn for name, fn in globals().items()
         if name.startswith("test_")}


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--offstat", required=True)
    p.add_argument("--offstatd", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--client-lib")
    p.add_argument("test", choices=sorted(TESTS))
    ARGS = p.parse_args()
    try:
        TESTS[ARGS.test]()
    except Skip as e:
        print("SKIP: %s" % e)
        return 77
    except Failure as e:
        print("FAIL: %s" % e)
        return 1
    print("PASS: %s" % ARGS.test)
    return 0


if __name__ == "__main__":
    sys.exit(main())

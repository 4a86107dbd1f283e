#!/usr/bin/env python3
"""Writes a full-size dataset in the Home Office open data format.

Every territorial force, British Transport Police and the three fraud
bodies, every offence code of the bundled catalogue, every financial quarter
from 2012/13 to 2024/25: about 330,000 rows, the size of the published table.
The counts are invented but plausible (national magnitudes shared out by
population, a trend per offence, seasons, the 2020 lockdown dip, codes that
start or stop when the Home Office changed its classification) and the same
for the same seed on every machine.

It also writes a list of realistic requests over that data (tab-separated,
one per line) that the offstat load generator and the gRPC peer both read,
so both answer exactly the same questions:

    GetCount      AREA  OFFENCE  YEAR  QUARTER        (QUARTER 0: the year)
    GetSeries     AREA  OFFENCE  FROM  TO  Y|Q
    CompareTrend  AREA  OFFENCE  BASE  END

Force names and populations come from data/areas.csv, offence codes and
descriptions from data/offences.csv.
"""
import argparse
import csv
import math
import os
import random
import sys

HEADER = [
    "Financial Year", "Financial Quarter", "Force Name",
    "Offence Description", "Offence Group", "Offence Subgroup",
    "Offence Code", "Number of Offences",
]

# Codes that are not rows of the police force table: published series of
# our own and Scotland's, and the fraud bodies' codes (their own rows).
NOT_FORCE_CODES = {"S15A", "SCOT-CIC", "AF", "CIFAS", "UK Finance"}

# Fraud bodies: code and a quarterly count around 2024/25.
FRAUD_BODIES = {
    "Action Fraud": ("AF", 88000),
    "CIFAS": ("CIFAS", 95000),
    "UK Finance": ("UK Finance", 135000),
}

# Rough national (England and Wales) counts a year for the large codes;
# others get a seeded magnitude between tens and a few thousand.
NATIONAL = {
    "105A": 520000, "8N": 400000, "8L": 330000, "8R": 210000,
    "8U": 45000, "8Q": 120000, "5D": 22000, "104": 28000, "8S": 12000,
    "9A": 210000, "9B": 32000, "46": 400000, "49": 420000, "45": 160000,
    "48": 95000, "39": 95000, "44": 75000, "49A": 55000, "58A": 95000,
    "58B": 55000, "58C": 150000, "58D": 65000, "56B": 25000,
    "92D": 55000, "92E": 120000, "92A": 30000, "34B": 70000,
    "28E": 170000, "28F": 40000, "28I": 130000, "28J": 30000,
    "28M": 45000, "30C": 110000, "30D": 20000, "28A": 150000,
    "28B": 35000, "30A": 130000, "30B": 25000, "10D": 25000,
    "10C": 12000, "62A": 20000, "88A": 5800, "19C": 40000, "20A": 50000,
    "22B": 12000, "21": 9000, "88E": 15000, "11A": 30000, "99": 20000,
}

# Codes in use only for some years (the burglary reclassifications of
# 2017/18 and 2023/24, offences created by new law).
ACTIVE = {}
for c in ("28A", "28B", "28C", "28D", "29", "30A", "30B", "31"):
    ACTIVE[c] = (1990, 2016)
for c in ("28E", "28F", "28G", "28H", "29A"):
    ACTIVE[c] = (2017, 2022)
for c in ("28I", "28J", "28K", "28L", "28M", "28N", "28O", "28P", "29B",
          "29C"):
    ACTIVE[c] = (2023, 2100)
ACTIVE.update({"8U": (2015, 2100), "8T": (2018, 2100), "106": (2015, 2100),
               "8Q": (2012, 2100)})

# Quarter factors (April-June is quarter 1).
SEASON = (1.04, 1.03, 0.96, 0.97)


def poisson(rng, lam):
    """A Poisson draw: exact for small means, normal for large ones."""
    if lam <= 0:
        return 0
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))


def load_areas(data_dir):
    forces, btp, total = [], None, 0
    with open(os.path.join(data_dir, "areas.csv"), newline="") as f:
        for a in csv.DictReader(f):
            if a["kind"] == "force":
                pop = int(a["population_mid2020"] or 0)
                forces.append(a)
                total += pop
            elif a["kind"] == "body" and a["code"] == "BTP":
                btp = a
    if len(forces) != 43 or btp is None:
        sys.exit("gen_fullsize: areas.csv must list 43 forces and BTP")
    return forces, btp, total


def load_offences(data_dir):
    with open(os.path.join(data_dir, "offences.csv"), newline="") as f:
        return [o for o in csv.DictReader(f)
                if o["code"] not in NOT_FORCE_CODES]


def quarterly_mean(code, params, share, year, quarter):
    """The expected count of one force, code and quarter."""
    lo, hi = ACTIVE.get(code, (1990, 2100))
    if not lo <= year <= hi:
        return 0.0
    national, growth = params
    # The trend is anchored on 2024/25; grooming rose sharply when
    # 88A took in s.15A offences in 2017/18.
    m = national / 4 * share * (1 + growth) ** (year - 2024)
    if code == "88A" and year < 2017:
        m *= 0.3
    m *= SEASON[quarter - 1]
    if year == 2020 and quarter == 1:
        m *= 0.75  # April-June 2020: the first lockdown
    return m


def write_rows(out, first, last, rng):
    data_dir = out["data"]
    forces, btp, total = load_areas(data_dir)
    offences = load_offences(data_dir)
    params = {}
    for o in offences:
        national = NATIONAL.get(o["code"])
        if national is None:
            national = math.exp(rng.uniform(math.log(20), math.log(6000)))
        params[o["code"]] = (national, rng.uniform(-0.05, 0.08))
    # Each force records a little more or less than its population says.
    bodies = [(f["name"], int(f["population_mid2020"]) / total *
               rng.uniform(0.75, 1.3)) for f in forces]
    bodies.append((btp["name"], 0.012))
    bodies.sort()
    offences.sort(key=lambda o: o["description"].lower())
    rows = 0
    w = csv.writer(out["file"], lineterminator="\n")
    w.writerow(HEADER)
    for year in range(first, last + 1):
        fy = "%d/%02d" % (year, (year + 1) % 100)
        for q in range(1, 5):
            for name, share in bodies:
                for o in offences:
                    mean = quarterly_mean(o["code"], params[o["code"]],
                                          share, year, q)
                    w.writerow([fy, q, name, o["description"], o["group"],
                                o["subgroup"], o["code"],
                                poisson(rng, mean)])
                    rows += 1
            for name, (code, n) in sorted(FRAUD_BODIES.items()):
                mean = n * 1.06 ** (year - 2024) * SEASON[q - 1]
                w.writerow([fy, q, name, "Fraud offences recorded by " +
                            name, "Fraud offences", "Fraud: " + name, code,
                            poisson(rng, mean)])
                rows += 1
    return rows, forces, offences


def write_requests(path, n, forces, offences, first, last, rng):
    """A mix of the questions the users in DESIGN.md ask."""
    regions = ["South West", "North West", "London", "E12000005",
               "Yorkshire and The Humber", "Wales"]
    tops = ["England", "England and Wales", "E92000001"]
    # Most questions are about sexual and violent offences.
    hot = [o["code"] for o in offences
           if o["group"] in ("Sexual offences",
                             "Violence against the person")]
    codes = [o["code"] for o in offences]

    def area():
        r = rng.random()
        if r < 0.75:
            f = rng.choice(forces)
            # By name, by code, or by the force's own name.
            return rng.choice([f["name"], f["code"], f["name"].upper()])
        if r < 0.93:
            return rng.choice(regions)
        return rng.choice(tops)

    def offence():
        r = rng.random()
        if r < 0.25:
            return "88A"
        return rng.choice(hot if r < 0.6 else codes)

    with open(path, "w") as f:
        for i in range(n):
            a, o = area(), offence()
            if i % 3 == 0:
                y = rng.randint(first, last)
                q = 0 if rng.random() < 0.5 else rng.randint(1, 4)
                f.write("GetCount\t%s\t%s\t%d\t%d\n" % (a, o, y, q))
            elif i % 3 == 1:
                y0 = rng.randint(first, last - 1)
                g = "Q" if rng.random() < 0.3 else "Y"
                y1 = min(last, y0 + (3 if g == "Q" else 12))
                f.write("GetSeries\t%s\t%s\t%d\t%d\t%s\n" %
                        (a, o, y0, y1, g))
            else:
                y0 = rng.randint(first, last - 1)
                y1 = rng.randint(y0 + 1, last)
                f.write("CompareTrend\t%s\t%s\t%d\t%d\n" % (a, o, y0, y1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="the CSV file to write")
    ap.add_argument("--requests", help="also write a request list here")
    ap.add_argument("--nrequests", type=int, default=3000)
    ap.add_argument("--data", default=os.path.join(here, "..", "data"),
                    help="the repository's data folder")
    ap.add_argument("--seed", type=int, default=20170401)
    ap.add_argument("--first", type=int, default=2012,
                    help="first financial year (2012 is 2012/13)")
    ap.add_argument("--last", type=int, default=2024)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        rows, forces, offences = write_rows({"file": f, "data": a.data},
                                            a.first, a.last, rng)
    if a.requests:
        write_requests(a.requests, a.nrequests, forces, offences, a.first,
                       a.last, random.Random(a.seed + 1))
    print("%s: %d rows, %d forces + BTP + 3 fraud bodies, %d codes, "
          "%d/%02d to %d/%02d" % (a.out, rows, len(forces), len(offences),
                                  a.first, (a.first + 1) % 100, a.last,
                                  (a.last + 1) % 100))


if __name__ == "__main__":
    main()

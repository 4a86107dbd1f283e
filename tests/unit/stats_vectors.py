#!/usr/bin/python3
"""Expected values for tests/unit/test_stats.c, computed with SciPy.

Run it from the top of the tree with the system Python 3, which has
Debian's python3-scipy:

    python3 tests/unit/stats_vectors.py

It prints C initialisers for the three tables in test_stats.c; paste each
one over the body of the table of the same name. It takes about twenty
minutes, nearly all of it SciPy's noncentral hypergeometric distribution on
the three largest tables. Every value comes from SciPy, not from the code
under test:

- poisson_cases: the Garwood interval from scipy.stats.chi2.ppf,
  lower = chi2.ppf((1 - conf) / 2, 2k) / 2 (0 when k == 0),
  upper = chi2.ppf((1 + conf) / 2, 2k + 2) / 2.
- rate_ratio_cases: scipy.stats.binomtest(c_end, c_base + c_end,
  p=t_end / (t_end + t_base)): .pvalue, and .proportion_ci(conf,
  method='exact') (Clopper-Pearson) carried to the ratio scale by
  q / (1 - q) * t_base / t_end, as R's poisson.test does. The estimate is
  (c_end / t_end) / (c_base / t_base).
- ror_cases: for the table [[a_end, a_base], [b_end, b_base]],
  scipy.stats.fisher_exact(table).pvalue and
  scipy.stats.contingency.odds_ratio(table, kind='conditional'):
  .statistic and .confidence_interval(conf).
"""

import math
import sys

import scipy
from scipy.stats import binomtest, chi2, fisher_exact
from scipy.stats.contingency import odds_ratio

CONFS = (0.9, 0.95, 0.99)

# k: small counts, the published figures, and force-sized to national-sized
# counts.
POISSON = [(k, c) for k in (0, 1, 3, 9, 37, 62, 377, 4373, 250000)
           for c in CONFS] + [(3000000, 0.95)]

# (c_base, c_end, t_base, t_end, conf)
RATE_RATIO = [
    # Dorset 2017/18 -> 2020/21, South West, England and Wales.
    (37, 62, 1.0, 1.0, 0.9),
    (37, 62, 1.0, 1.0, 0.95),
    (37, 62, 1.0, 1.0, 0.99),
    (377, 481, 1.0, 1.0, 0.95),
    (3217, 4373, 1.0, 1.0, 0.95),
    # Rates over unequal exposures (populations or numbers of quarters).
    (37, 62, 772268.0, 776780.0, 0.95),
    (9, 3, 4.0, 3.0, 0.95),
    (3, 9, 1.0, 2.5, 0.9),
    # Small counts, zeros on either side, and exact ties under p = 1/2.
    (0, 1, 1.0, 1.0, 0.95),
    (1, 0, 1.0, 1.0, 0.95),
    (0, 3, 1.0, 1.0, 0.95),
    (3, 0, 1.0, 1.0, 0.99),
    (0, 9, 1.0, 1.0, 0.9),
    (1, 1, 1.0, 1.0, 0.95),
    (1, 3, 1.0, 1.0, 0.95),
    (3, 9, 1.0, 1.0, 0.95),
    (9, 3, 1.0, 1.0, 0.95),
    (3, 3, 1.0, 1.0, 0.95),
    # The observed count next to n p but not at the mode, so the p-value
    # is below 1.
    (2, 0, 0.6, 0.4, 0.95),
    (8, 9, 1.0, 1.25, 0.9),
    # Large counts.
    (250000, 260000, 1.0, 1.0, 0.95),
    (250000, 260000, 1.0, 1.0, 0.99),
    (250000, 251000, 5000000.0, 5020000.0, 0.95),
    (3000000, 3005000, 1.0, 1.0, 0.95),
]

# (a_base, a_end, b_base, b_end, conf): subject, then rest of comparator.
ROR = [
    # Dorset against the rest of the South West.
    (37, 62, 340, 419, 0.9),
    (37, 62, 340, 419, 0.95),
    (37, 62, 340, 419, 0.99),
    # The South West against the rest of England and Wales.
    (377, 481, 2840, 3892, 0.95),
    # Small counts; a zero base (estimate infinite) or end (estimate 0).
    (1, 3, 9, 3, 0.95),
    (3, 9, 9, 3, 0.95),
    (3, 1, 3, 9, 0.9),
    (0, 3, 9, 9, 0.95),
    (3, 0, 9, 9, 0.95),
    (9, 3, 0, 1, 0.99),
    (1, 1, 1, 1, 0.95),
    (3, 3, 3, 3, 0.95),
    (1, 0, 0, 1, 0.95),
    # Large counts, with and without a real difference.
    (250000, 260000, 1000000, 1010000, 0.95),
    (250000, 260000, 250000, 250000, 0.95),
    (100000, 101000, 900000, 905000, 0.99),
]


def c(x):
    """A double as a C initialiser that reads back to the same value."""
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "-INFINITY"
    s = repr(float(x))
    return s


def poisson():
    print("\t/* k, conf, lower, upper */")
    for k, conf in POISSON:
        alpha = (1 - conf) / 2
        lower = 0.0 if k == 0 else chi2.ppf(alpha, 2 * k) / 2
        upper = chi2.ppf(1 - alpha, 2 * k + 2) / 2
        print(f"\t{{ {k}, {conf}, {c(lower)}, {c(upper)} }},")


def rate_ratio():
    print("\t/* c_base, c_end, t_base, t_end, conf, estimate, lower, "
          "upper, p */")
    for cb, ce, tb, te, conf in RATE_RATIO:
        res = binomtest(ce, cb + ce, p=te / (te + tb))
        ci = res.proportion_ci(confidence_level=conf, method='exact')
        scale = tb / te
        lower = ci.low / (1 - ci.low) * scale
        upper = math.inf if ci.high >= 1 else ci.high / (1 - ci.high) * scale
        est = math.inf if cb == 0 else (ce / te) / (cb / tb)
        print(f"\t{{ {cb}, {ce}, {c(tb)}, {c(te)}, {conf},\n"
              f"\t    {{ {c(est)}, {c(lower)}, {c(upper)},\n"
              f"\t        {c(res.pvalue)} }} }},")


def ror():
    print("\t/* a_base, a_end, b_base, b_end, conf, estimate, lower, "
          "upper, p */")
    for ab, ae, bb, be, conf in ROR:
        table = [[ae, ab], [be, bb]]
        p = fisher_exact(table).pvalue
        res = odds_ratio(table, kind='conditional')
        ci = res.confidence_interval(confidence_level=conf)
        print(f"\t{{ {ab}, {ae}, {bb}, {be}, {conf},\n"
              f"\t    {{ {c(res.statistic)}, {c(ci.low)}, {c(ci.high)},\n"
              f"\t        {c(p)} }} }},")
        sys.stdout.flush()


def main():
    print(f"/* Generated by tests/unit/stats_vectors.py, SciPy "
          f"{scipy.__version__}. */")
    print("poisson_cases:")
    poisson()
    print("rate_ratio_cases:")
    rate_ratio()
    print("ror_cases:")
    ror()
    return 0


if __name__ == "__main__":
    sys.exit(main())

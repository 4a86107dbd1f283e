#ifndef OFFSTAT_STATS_H
#define OFFSTAT_STATS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Statistics on recorded crime counts: changes, rates, exact Poisson
 * intervals and exact tests of whether a change is more than chance.
 *
 * The functions may run on many threads at once. Their results depend on
 * their arguments alone; the interval and test functions remember recent
 * results in small lock-free tables, so that a repeat returns the same
 * doubles without computing them again. They take counts as they come
 * from the data; a count is treated as one draw from a Poisson
 * distribution, which is the usual model for offence counts.
 *
 * The exact intervals and tests are computed in log space, term by term
 * where a tail has to be summed, so they hold from counts of 0 to counts in
 * the billions; a call on counts around 100,000 takes well under a
 * millisecond. They use GSL's special functions, and GSL's default error
 * handler aborts the process. The arguments passed stay inside GSL's
 * domains, but as a safeguard the first call of a function that can fail
 * turns that handler off, unless the program has installed one of its
 * own, so that a failure inside GSL would be a -1 return here rather than
 * the end of the service.
 */

/*
 * The largest total of the counts that one call may take; larger totals
 * are refused. No police force records that many offences of one kind, and
 * the limit bounds the time of a call (a few milliseconds at the limit).
 */
#define STATS_COUNT_MAX 4294967295u

/* Result of a ratio estimate with an exact interval and two-sided p-value. */
typedef struct {
	double estimate; /* point estimate; INFINITY when the base side is
	                    zero, NAN when the data say nothing (see each
	                    function) */
	double lower;    /* lower bound of the confidence interval */
	double upper;    /* upper bound (may be INFINITY) */
	double p_value;  /* exact two-sided p-value of ratio == 1 */
} stats_ratio;

/*
 * Computes the percentage change from base to end, 100 * (end - base) /
 * base, and stores it in *pct: 37 -> 62 gives 67.567... Returns true on
 * success. Returns false, leaving *pct untouched, when base is 0 (the change
 * has no percentage) or pct is NULL.
 */
bool stats_percent_change(uint64_t base, uint64_t end, double *pct);

/*
 * Returns count per `per` people, count / population * per: a rate per
 * 100,000 passes 100000. Returns NAN when population is 0.
 */
double stats_rate(uint64_t count, uint64_t population, double per);

/*
 * Computes the exact (Garwood) confidence interval for the mean of a Poisson
 * count, given k observed, at confidence level conf (0.95 for a 95%
 * interval): lower = chi2_quantile((1 - conf) / 2, 2k) / 2 and upper =
 * chi2_quantile((1 + conf) / 2, 2k + 2) / 2; lower is 0 when k is 0.
 * Returns 0 with the bounds in *lower and *upper. Returns -1, leaving both
 * untouched, when conf is not strictly between 0 and 1 (NAN included), k
 * exceeds STATS_COUNT_MAX, a pointer is NULL, or the computation fails.
 */
int stats_poisson_ci(uint64_t k, double conf, double *lower, double *upper);

/*
 * Compares two Poisson rates: c_base events over exposure t_base and c_end
 * over t_end (populations, or 1.0 each to compare the counts themselves).
 * The estimate is the rate ratio (c_end / t_end) / (c_base / t_base); the
 * interval and two-sided p-value are exact, by the test conditional on the
 * total that R's poisson.test(c(c_end, c_base), c(t_end, t_base)) runs:
 * c_end is binomial out of c_base + c_end with p = t_end / (t_end + t_base),
 * the Clopper-Pearson interval for p is carried to the ratio scale by
 * p / (1 - p) * t_base / t_end, and the p-value sums the probabilities of
 * the outcomes no more likely than the one observed (within a relative
 * 1e-7, as R does).
 *
 * The estimate is 0 when c_end is 0 and INFINITY (with upper INFINITY) when
 * c_base is 0. When both counts are 0 there is nothing to compare: the
 * estimate is NAN, the interval [0, INFINITY] and the p-value 1, and the
 * call still returns 0.
 *
 * Returns 0 with the result in *out. Returns -1, leaving *out untouched,
 * when an exposure is not a finite number above 0, conf is not strictly
 * between 0 and 1, c_base + c_end exceeds STATS_COUNT_MAX, out is NULL, or
 * the computation fails.
 */
int stats_rate_ratio(uint64_t c_base, uint64_t c_end, double t_base,
                     double t_end, double conf, stats_ratio *out);

/*
 * Tests whether a subject's change differs from a comparator's: a_base ->
 * a_end for the subject and b_base -> b_end for the rest of the comparator
 * (the comparator's total less the subject). The estimate is the
 * conditional maximum-likelihood estimate of the ratio of the two changes,
 * (a_end / a_base) / (b_end / b_base), an odds ratio: it is what R's
 * fisher.test and SciPy's odds_ratio(kind='conditional') report for the
 * table [[a_end, a_base], [b_end, b_base]]. It is close to the plain ratio
 * (Dorset against the rest of the South West, 37 -> 62 against 340 -> 419:
 * 1.3593 where the plain ratio is 1.3598). The interval is the exact
 * conditional one and the p-value is Fisher's exact two-sided test, which
 * sums the probabilities of the tables no more likely than the one observed
 * (within a relative 1e-7, as R does).
 *
 * The estimate is 0 when the subject's end count or the comparator's base
 * count is 0, and INFINITY (with upper INFINITY) when the subject's base
 * count or the comparator's end count is 0. When a whole side of the table
 * is 0 (both of the subject's counts, both of the comparator's, both base
 * counts or both end counts) there is nothing to compare: the estimate is
 * NAN, the interval [0, INFINITY] and the p-value 1, and the call still
 * returns 0.
 *
 * Returns 0 with the result in *out. Returns -1, leaving *out untouched,
 * when conf is not strictly between 0 and 1, the four counts together
 * exceed STATS_COUNT_MAX, out is NULL, or the computation fails.
 */
int stats_ratio_of_ratios(uint64_t a_base, uint64_t a_end, uint64_t b_base,
                          uint64_t b_end, double conf, stats_ratio *out);

#endif

#include <float.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_roots.h>
#include <gsl/gsl_sf_gamma.h>

#include "stats.h"

_Static_assert(STATS_COUNT_MAX <= UINT_MAX,
        "GSL's binomial functions take the total as unsigned int");

/*
 * R's binom.test and fisher.test count an outcome as "no more likely than
 * the observed one" within this relative slack, so that ties computed with
 * rounding error are still ties.
 */
#define REL_ERR 1e-7

/*
 * A tail sum stops when what is left is below this fraction of it: far
 * below the 1e-6 to which the results are checked, and cheap, because the
 * terms fall off geometrically in the tails.
 */
#define TAIL_EPS 1e-17

/*
 * Bounds on the log odds ratio when looking for a root. Odds ratios beyond
 * e^300 do not arise from counts below STATS_COUNT_MAX, and e^300 times the
 * largest product of two counts still fits in a double.
 */
#define LOG_OR_LIMIT 300.0

/* Brent's method stops when the root is known to this (log scale). */
#define ROOT_TOL   1e-13
#define ROOT_ITERS 200

static pthread_once_t gsl_once = PTHREAD_ONCE_INIT;

/*
 * GSL's default handler aborts. Turn it off, but keep any handler the
 * program installed itself: that was a choice, the default was not.
 */
static void
gsl_quiet(void)
{
	gsl_error_handler_t *old = gsl_set_error_handler_off();
	if (old != NULL) {
		gsl_set_error_handler(old);
	}
}

static void
gsl_init(void)
{
	(void) pthread_once(&gsl_once, gsl_quiet);
}

static bool
conf_ok(double conf)
{
	/* Written so that NAN fails too. */
	return (conf > 0.0 && conf < 1.0);
}

static double
lnchoose(double n, double r)
{
	return (gsl_sf_lngamma(n + 1.0) - gsl_sf_lngamma(r + 1.0) -
	        gsl_sf_lngamma(n - r + 1.0));
}

bool
stats_percent_change(uint64_t base, uint64_t end, double *pct)
{
	if (base == 0 || pct == NULL) {
		return (false);
	}
	*pct = 100.0 * ((double) end - (double) base) / (double) base;
	return (true);
}

double
stats_rate(uint64_t count, uint64_t population, double per)
{
	if (population == 0) {
		return (NAN);
	}
	return ((double) count / (double) population * per);
}

int
stats_poisson_ci(uint64_t k, double conf, double *lower, double *upper)
{
	double alpha, lo, hi;

	if (!conf_ok(conf) || k > STATS_COUNT_MAX || lower == NULL ||
	    upper == NULL) {
		return (-1);
	}
	gsl_init();
	alpha = (1.0 - conf) / 2.0;
	lo    = 0.0;
	if (k > 0) {
		lo = gsl_cdf_chisq_Pinv(alpha, 2.0 * (double) k) / 2.0;
	}
	hi = gsl_cdf_chisq_Qinv(alpha, 2.0 * (double) k + 2.0) / 2.0;
	if (!isfinite(lo) || !isfinite(hi)) {
		return (-1);
	}
	*lower = lo;
	*upper = hi;
	return (0);
}

/*
 * Binomial test
 */

/* Log of the binomial probability of x out of n, log p and log(1 - p) given
 * to keep precision when p is near 0 or 1. */
static double
binom_logpmf(double x, double n, double lp, double lq)
{
	return (lnchoose(n, x) + x * lp + (n - x) * lq);
}

/*
 * The two-sided p-value of x out of n with probability p, as R's binom.test
 * and SciPy's binomtest compute it. The probabilities fall monotonically
 * away from n * p on either side, so the outcomes on the far side that are
 * no more likely than x form a tail, found by bisection.
 */
static double
binom_two_sided(unsigned x, unsigned n, double p, double lp, double lq)
{
	double m     = (double) n * p;
	double limit = binom_logpmf(x, n, lp, lq) + log1p(REL_ERR);
	double pv;

	if ((double) x == m) {
		return (1.0);
	}
	if ((double) x < m) {
		/* First j in [ceil(m), n] whose probability is within limit;
		 * n + 1 when none is. */
		unsigned lo = (unsigned) ceil(m), hi = n + 1;
		while (lo < hi) {
			unsigned mid = lo + (hi - lo) / 2;
			if (binom_logpmf(mid, n, lp, lq) <= limit) {
				hi = mid;
			} else {
				lo = mid + 1;
			}
		}
		pv = gsl_cdf_binomial_P(x, p, n);
		if (lo <= n) {
			pv += gsl_cdf_binomial_Q(lo - 1, p, n);
		}
	} else {
		/* One past the last j in [0, floor(m)] whose probability is
		 * within limit; 0 when none is. */
		unsigned lo = 0, hi = (unsigned) floor(m) + 1;
		while (lo < hi) {
			unsigned mid = lo + (hi - lo) / 2;
			if (binom_logpmf(mid, n, lp, lq) <= limit) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		pv = gsl_cdf_binomial_Q(x - 1, p, n);
		if (lo > 0) {
			pv += gsl_cdf_binomial_P(lo - 1, p, n);
		}
	}
	return (pv < 1.0 ? pv : 1.0);
}

int
stats_rate_ratio(uint64_t c_base, uint64_t c_end, double t_base,
        double t_end, double conf, stats_ratio *out)
{
	double   alpha, p, lp, lq, pl, pu, scale;
	unsigned n, x;

	if (!(isfinite(t_base) && t_base > 0.0) ||
	    !(isfinite(t_end) && t_end > 0.0) || !conf_ok(conf) ||
	    out == NULL || c_base > STATS_COUNT_MAX ||
	    c_end > STATS_COUNT_MAX - c_base) {
		return (-1);
	}
	if (c_base == 0 && c_end == 0) {
		out->estimate = NAN;
		out->lower    = 0.0;
		out->upper    = INFINITY;
		out->p_value  = 1.0;
		return (0);
	}
	gsl_init();
	n     = (unsigned) (c_base + c_end);
	x     = (unsigned) c_end;
	alpha = (1.0 - conf) / 2.0;
	/* p = t_end / (t_end + t_base), and its logs, without cancellation. */
	p  = t_end / (t_end + t_base);
	lp = log(t_end) - log(t_end + t_base);
	lq = log(t_base) - log(t_end + t_base);

	/* Clopper-Pearson: beta quantiles, with the ends of [0, 1] where x
	 * is 0 or n. */
	pl = x == 0 ? 0.0 : gsl_cdf_beta_Pinv(alpha, x, n - x + 1.0);
	pu = x == n ? 1.0 : gsl_cdf_beta_Qinv(alpha, x + 1.0, n - x);
	if (isnan(pl) || isnan(pu)) {
		return (-1);
	}
	scale = t_base / t_end;

	out->p_value  = binom_two_sided(x, n, p, lp, lq);
	out->estimate = c_base == 0 ? INFINITY
	                            : (double) c_end / (double) c_base * scale;
	out->lower    = pl / (1.0 - pl) * scale;
	out->upper    = pu >= 1.0 ? INFINITY : pu / (1.0 - pu) * scale;
	return (0);
}

/*
 * Fisher's noncentral hypergeometric distribution
 *
 * The top-left cell of a 2x2 table with fixed margins, in R's notation: m
 * and n are the first and second column totals and k the first row total.
 * Its odds ratio is exp(t). Probabilities are handled relative to the mode
 * and summed outwards from it: the distribution is log-concave, so the terms
 * fall away from the mode and a tail can stop as soon as a geometric bound
 * on the rest is negligible. That keeps a sum to a few times the standard
 * deviation however large the counts.
 */
typedef struct {
	double m, n, k;
	double lo, hi; /* the support */
} hyper;

static void
hyper_init(hyper *h, double m, double n, double k)
{
	h->m  = m;
	h->n  = n;
	h->k  = k;
	h->lo = k > n ? k - n : 0.0;
	h->hi = k < m ? k : m;
}

/* f(i + 1) / f(i) for lo <= i < hi, at odds ratio e. */
static double
hyper_up(const hyper *h, double i, double e)
{
	return (e * (h->m - i) * (h->k - i) /
	        ((i + 1.0) * (h->n - h->k + i + 1.0)));
}

/* f(i - 1) / f(i) for lo < i <= hi, at odds ratio e. */
static double
hyper_down(const hyper *h, double i, double e)
{
	return (i * (h->n - h->k + i) /
	        (e * (h->m - i + 1.0) * (h->k - i + 1.0)));
}

/* log(f(i) / f(j)) at log odds ratio t. */
static double
hyper_logratio(const hyper *h, double i, double j, double t)
{
	return (lnchoose(h->m, i) + lnchoose(h->n, h->k - i) -
	        lnchoose(h->m, j) - lnchoose(h->n, h->k - j) + (i - j) * t);
}

/* The mode: the first i whose successor is less likely. */
static double
hyper_mode(const hyper *h, double e)
{
	double lo = h->lo, hi = h->hi;

	while (lo < hi) {
		double mid = floor(lo + (hi - lo) / 2.0);
		if (hyper_up(h, mid, e) < 1.0) {
			hi = mid;
		} else {
			lo = mid + 1.0;
		}
	}
	return (lo);
}

/*
 * Sums f(i) / f(from) for i = from, from + dir, ... to the end of the
 * support or until the rest is negligible, and adds the sum of
 * (i - from) f(i) / f(from) to *moment when moment is not NULL. The terms
 * must not rise along the way: from is the mode or beyond it in direction
 * dir.
 */
static double
hyper_walk(const hyper *h, double from, int dir, double e, double *moment)
{
	double sum = 1.0, term = 1.0, mom = 0.0, i = from;

	for (;;) {
		double r;
		if (dir > 0) {
			if (i >= h->hi) {
				break;
			}
			r = hyper_up(h, i, e);
			i += 1.0;
		} else {
			if (i <= h->lo) {
				break;
			}
			r = hyper_down(h, i, e);
			i -= 1.0;
		}
		term *= r;
		sum += term;
		mom += (i - from) * term;
		/* Later ratios are no larger than r (log-concavity), so the
		 * rest is below the geometric series term * r / (1 - r). */
		if (term == 0.0 || (r < 1.0 && term * r < TAIL_EPS * sum *
		                                              (1.0 - r))) {
			break;
		}
	}
	if (moment != NULL) {
		*moment += mom;
	}
	return (sum);
}

/* The normalising sum relative to the mode, and the mean when asked. */
static double
hyper_norm(const hyper *h, double mode, double e, double *mean)
{
	double mom = 0.0, z;

	z = hyper_walk(h, mode, 1, e, &mom) + hyper_walk(h, mode, -1, e, &mom) -
	    1.0;
	if (mean != NULL) {
		*mean = mode + mom / z;
	}
	return (z);
}

static double hyper_upper(const hyper *h, double x, double t);

/* P(X <= x) at log odds ratio t. */
static double
hyper_lower(const hyper *h, double x, double t)
{
	double e = exp(t), mode, z, s;

	if (x >= h->hi) {
		return (1.0);
	}
	if (x < h->lo) {
		return (0.0);
	}
	mode = hyper_mode(h, e);
	if (x >= mode) {
		/* The complement is the tail that can be walked. */
		return (1.0 - hyper_upper(h, x + 1.0, t));
	}
	z = hyper_norm(h, mode, e, NULL);
	s = hyper_walk(h, x, -1, e, NULL);
	return (exp(hyper_logratio(h, x, mode, t) + log(s) - log(z)));
}

/* P(X >= x) at log odds ratio t. */
static double
hyper_upper(const hyper *h, double x, double t)
{
	double e = exp(t), mode, z, s;

	if (x <= h->lo) {
		return (1.0);
	}
	if (x > h->hi) {
		return (0.0);
	}
	mode = hyper_mode(h, e);
	if (x <= mode) {
		return (1.0 - hyper_lower(h, x - 1.0, t));
	}
	z = hyper_norm(h, mode, e, NULL);
	s = hyper_walk(h, x, 1, e, NULL);
	return (exp(hyper_logratio(h, x, mode, t) + log(s) - log(z)));
}

/*
 * Fisher's exact two-sided p-value of x: the probability, under odds ratio
 * 1, of the tables no more likely than x. As in the binomial test, they form
 * the tail beyond x and a tail on the far side of the mode.
 */
static double
hyper_two_sided(const hyper *h, double x)
{
	double mode  = hyper_mode(h, 1.0);
	double limit = hyper_logratio(h, x, mode, 0.0) + log1p(REL_ERR);
	double pv, lo, hi;

	if (x == mode) {
		return (1.0);
	}
	if (x < mode) {
		/* First j in [mode, hi] within limit; hi + 1 when none is. */
		lo = mode;
		hi = h->hi + 1.0;
		while (lo < hi) {
			double mid = floor(lo + (hi - lo) / 2.0);
			if (hyper_logratio(h, mid, mode, 0.0) <= limit) {
				hi = mid;
			} else {
				lo = mid + 1.0;
			}
		}
		pv = hyper_lower(h, x, 0.0) + hyper_upper(h, lo, 0.0);
	} else {
		/* One past the last j in [lo, mode] within limit. */
		lo = h->lo;
		hi = mode + 1.0;
		while (lo < hi) {
			double mid = floor(lo + (hi - lo) / 2.0);
			if (hyper_logratio(h, mid, mode, 0.0) <= limit) {
				lo = mid + 1.0;
			} else {
				hi = mid;
			}
		}
		pv = hyper_upper(h, x, 0.0) + hyper_lower(h, lo - 1.0, 0.0);
	}
	return (pv < 1.0 ? pv : 1.0);
}

/*
 * Root finding on the log odds ratio
 */

typedef enum {
	EQ_MEAN,  /* E[X] = x: the conditional MLE */
	EQ_LOWER, /* P(X <= x) = alpha: the upper bound */
	EQ_UPPER, /* P(X >= x) = alpha: the lower bound */
} equation;

typedef struct {
	const hyper *h;
	double       x;
	double       alpha;
	equation     eq;
} problem;

/* Each equation written as a function that rises with t. */
static double
problem_f(double t, void *arg)
{
	const problem *pr = arg;
	double         mean;

	switch (pr->eq) {
	case EQ_MEAN:
		(void) hyper_norm(pr->h, hyper_mode(pr->h, exp(t)), exp(t),
		    &mean);
		return (mean - pr->x);
	case EQ_LOWER:
		return (pr->alpha - hyper_lower(pr->h, pr->x, t));
	case EQ_UPPER:
		return (hyper_upper(pr->h, pr->x, t) - pr->alpha);
	}
	return (NAN);
}

/*
 * Finds the root of an increasing function near t0: widens [t0 - step,
 * t0 + step] until the sign changes, then runs Brent's method. Returns 0, or
 * -1 when no root lies within LOG_OR_LIMIT or the solver fails.
 */
static int
solve(problem *pr, double t0, double step, double *root)
{
	gsl_function        fn = { problem_f, pr };
	gsl_root_fsolver   *s;
	double              a = t0 - step, b = t0 + step, fa, fb;
	int                 rv = -1;

	fa = problem_f(a, pr);
	while (fa > 0.0) {
		b    = a;
		step = step * 2.0;
		a    = a - step;
		if (a < -LOG_OR_LIMIT) {
			return (-1);
		}
		fa = problem_f(a, pr);
	}
	fb = problem_f(b, pr);
	while (fb < 0.0) {
		a    = b;
		step = step * 2.0;
		b    = b + step;
		if (b > LOG_OR_LIMIT) {
			return (-1);
		}
		fb = problem_f(b, pr);
	}
	if (isnan(fa) || isnan(fb)) {
		return (-1);
	}
	if (fa == 0.0 || fb == 0.0) {
		*root = fa == 0.0 ? a : b;
		return (0);
	}
	if ((s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent)) == NULL) {
		return (-1);
	}
	if (gsl_root_fsolver_set(s, &fn, a, b) != GSL_SUCCESS) {
		goto done;
	}
	for (int i = 0; i < ROOT_ITERS; i++) {
		if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS) {
			goto done;
		}
		a = gsl_root_fsolver_x_lower(s);
		b = gsl_root_fsolver_x_upper(s);
		if (gsl_root_test_interval(a, b, ROOT_TOL, 0.0) !=
		    GSL_CONTINUE) {
			*root = gsl_root_fsolver_root(s);
			rv    = 0;
			break;
		}
	}
done:
	gsl_root_fsolver_free(s);
	return (rv);
}

int
stats_ratio_of_ratios(uint64_t a_base, uint64_t a_end, uint64_t b_base,
        uint64_t b_end, double conf, stats_ratio *out)
{
	hyper   h;
	problem pr;
	double  x, t0, se, z, pv;
	double  est = NAN, lo = 0.0, hi = INFINITY;
	double  c[4];

	if (!conf_ok(conf) || out == NULL || a_base > STATS_COUNT_MAX ||
	    a_end > STATS_COUNT_MAX - a_base ||
	    b_base > STATS_COUNT_MAX - a_base - a_end ||
	    b_end > STATS_COUNT_MAX - a_base - a_end - b_base) {
		return (-1);
	}
	/* The table [[a_end, a_base], [b_end, b_base]]: the first column is
	 * the end period, so the odds ratio is the ratio of the changes. */
	hyper_init(&h, (double) a_end + (double) b_end,
	    (double) a_base + (double) b_base,
	    (double) a_end + (double) a_base);
	x = (double) a_end;
	if (h.lo == h.hi) {
		/* A zero margin leaves a single possible table. */
		out->estimate = NAN;
		out->lower    = 0.0;
		out->upper    = INFINITY;
		out->p_value  = 1.0;
		return (0);
	}
	gsl_init();

	/* Start the searches from the log odds ratio with half added to
	 * each cell, and its usual standard error, so that Brent's method
	 * begins with a bracket close to the root. */
	c[0] = (double) a_end + 0.5;
	c[1] = (double) a_base + 0.5;
	c[2] = (double) b_end + 0.5;
	c[3] = (double) b_base + 0.5;
	t0   = log(c[0]) + log(c[3]) - log(c[1]) - log(c[2]);
	se   = sqrt(1.0 / c[0] + 1.0 / c[1] + 1.0 / c[2] + 1.0 / c[3]);
	pr.h     = &h;
	pr.x     = x;
	pr.alpha = (1.0 - conf) / 2.0;
	z        = gsl_cdf_ugaussian_Qinv(pr.alpha);

	/* At an end of the support the estimate is 0 or INFINITY and that
	 * side of the interval stays open. */
	if (x == h.lo) {
		est = 0.0;
	} else if (x == h.hi) {
		est = INFINITY;
	} else {
		pr.eq = EQ_MEAN;
		if (solve(&pr, t0, se / 8.0, &est) != 0) {
			return (-1);
		}
		est = exp(est);
	}
	if (x > h.lo) {
		pr.eq = EQ_UPPER;
		if (solve(&pr, t0 - z * se, se / 8.0, &lo) != 0) {
			return (-1);
		}
		lo = exp(lo);
	}
	if (x < h.hi) {
		pr.eq = EQ_LOWER;
		if (solve(&pr, t0 + z * se, se / 8.0, &hi) != 0) {
			return (-1);
		}
		hi = exp(hi);
	}
	pv = hyper_two_sided(&h, x);
	if (isnan(pv)) {
		return (-1);
	}
	out->estimate = est;
	out->lower    = lo;
	out->upper    = hi;
	out->p_value  = pv;
	return (0);
}

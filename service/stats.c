#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_log.h>

#include "stats.h"

/* Counts and their sums are carried in doubles, exactly. */
_Static_assert(STATS_COUNT_MAX < (1ull << 53), "counts must fit a double");

/*
 * R's binom.test and fisher.test count an outcome as "no more likely than
 * the observed one" within this relative slack, so that ties computed with
 * rounding error are still ties.
 */
#define REL_ERR 1e-7

/*
 * A tail sum stops when a bound on what is left falls below this fraction
 * of it. The terms fall off geometrically in the tails, so going this far
 * costs little.
 */
#define TAIL_EPS 1e-17

/*
 * Bounds on every unknown that is solved for (log odds, log odds ratio, log
 * Poisson mean). Roots beyond e^300 do not arise from counts up to
 * STATS_COUNT_MAX, and e^300 times the product of two such counts still
 * fits in a double.
 */
#define LOG_LIMIT 300.0

/* Newton's method stops when a step is below this, relative to 1 + |t|. */
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
	(void)pthread_once(&gsl_once, gsl_quiet);
}

/*
 * Results remembered across calls. A reply asks for dozens of intervals and
 * tests, each a few root finds over tail sums (10 to 100 us), and the same
 * counts come back again and again: every quarter of a force's series has
 * its small count, every comparison of a force sets it against the same
 * region. Each function keeps a table of recent results, hashed on every
 * argument (a result is a pure function of them), without locks: an entry
 * is a sequence lock, which a reader that meets a write, or another key,
 * takes as a miss and computes for itself. Hits return the very doubles
 * the computation gave.
 */
#define MEMO_KEY 5 /* 64-bit words of arguments */
#define MEMO_VAL 4 /* 64-bit words of results */

typedef struct {
	atomic_uint   seq; /* odd while being written */
	atomic_ullong key[MEMO_KEY];
	atomic_ullong val[MEMO_VAL];
} memo_entry;

/*
 * Sizes are powers of two, 80 bytes an entry; only the pages written to
 * take memory. A reply of CompareTrend runs 4 to 8 tests and 6 to 10
 * intervals, so a table holds those of a few thousand comparisons. A key
 * may sit in any of the MEMO_WAYS entries of its bucket, so that two keys
 * that hash alike do not keep pushing each other out.
 */
#define MEMO_BITS 14
#define MEMO_WAYS 4
static memo_entry memo_ci[1u << MEMO_BITS];
static memo_entry memo_rr[1u << MEMO_BITS];
static memo_entry memo_ror[1u << MEMO_BITS];

/*
 * Intervals at the default level for counts below CI_DIRECT, by count:
 * nearly every count asked about, and no two of them share an entry. An
 * entry is empty while its upper bound, which is never 0, reads 0; two
 * threads that fill one at once write the same bits.
 */
#define CI_DIRECT      65536
#define CI_DIRECT_CONF 0.95
static struct {
	atomic_ullong lo, hi;
} ci_direct[CI_DIRECT];

static uint64_t
dbits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return (u);
}

static double
bitsd(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return (d);
}

static uint64_t
memo_hash(const uint64_t *key)
{
	uint64_t h = 0;
	for (int i = 0; i < MEMO_KEY; i++) {
		h = (h ^ key[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (h * 0xbf58476d1ce4e5b9ull);
}

/*
 * Reads entry e when it holds key; false when it does not, or when a
 * write to it got in the way. The words are read with acquire and written
 * with release (plain moves on x86), not fenced: a word from a write in
 * progress then makes that write's odd sequence visible to the last load.
 * (Thread sanitizers do not model fences, and GCC warns of them there.)
 */
static bool
memo_read(memo_entry *e, const uint64_t *key, uint64_t *val)
{
	unsigned s = atomic_load_explicit(&e->seq, memory_order_acquire);

	if (s & 1) {
		return (false);
	}
	for (int i = 0; i < MEMO_KEY; i++) {
		if (atomic_load_explicit(&e->key[i], memory_order_acquire) !=
		    key[i]) {
			return (false);
		}
	}
	for (int i = 0; i < MEMO_VAL; i++) {
		val[i] =
		        atomic_load_explicit(&e->val[i], memory_order_acquire);
	}
	return (atomic_load_explicit(&e->seq, memory_order_relaxed) == s);
}

/* The result remembered for key, if any. Every key holds the bits of a
 * confidence level, which are never 0, so an empty entry matches none. */
static bool
memo_get(memo_entry *tab, const uint64_t *key, uint64_t *val)
{
	uint64_t    h = memo_hash(key);
	memo_entry *b =
	        &tab[(h >> (64 - MEMO_BITS)) & ~(uint64_t)(MEMO_WAYS - 1)];

	for (int w = 0; w < MEMO_WAYS; w++) {
		if (memo_read(&b[w], key, val)) {
			return (true);
		}
	}
	return (false);
}

/* Remembers a result in an empty entry of its bucket, or else in one
 * picked by the hash, unless another thread is writing that entry. */
static void
memo_put(memo_entry *tab, const uint64_t *key, const uint64_t *val)
{
	uint64_t    h = memo_hash(key);
	memo_entry *b =
	        &tab[(h >> (64 - MEMO_BITS)) & ~(uint64_t)(MEMO_WAYS - 1)];
	memo_entry *e = &b[h & (MEMO_WAYS - 1)];
	unsigned    s;

	for (int w = 0; w < MEMO_WAYS; w++) {
		if (atomic_load_explicit(&b[w].seq, memory_order_relaxed) ==
		    0) {
			e = &b[w];
			break;
		}
	}
	s = atomic_load_explicit(&e->seq, memory_order_relaxed);
	if ((s & 1) || !atomic_compare_exchange_strong_explicit(
	                       &e->seq, &s, s + 1, memory_order_acquire,
	                       memory_order_relaxed)) {
		return;
	}
	for (int i = 0; i < MEMO_KEY; i++) {
		atomic_store_explicit(&e->key[i], key[i],
		                      memory_order_release);
	}
	for (int i = 0; i < MEMO_VAL; i++) {
		atomic_store_explicit(&e->val[i], val[i],
		                      memory_order_release);
	}
	atomic_store_explicit(&e->seq, s + 2, memory_order_release);
}

static void
ratio_words(const stats_ratio *r, uint64_t *w)
{
	w[0] = dbits(r->estimate);
	w[1] = dbits(r->lower);
	w[2] = dbits(r->upper);
	w[3] = dbits(r->p_value);
}

static void
words_ratio(const uint64_t *w, stats_ratio *r)
{
	r->estimate = bitsd(w[0]);
	r->lower    = bitsd(w[1]);
	r->upper    = bitsd(w[2]);
	r->p_value  = bitsd(w[3]);
}

static bool
conf_ok(double conf)
{
	/* Written so that NAN fails too. */
	return (conf > 0.0 && conf < 1.0);
}

/*
 * Probabilities of counts in the millions are differences of log-gammas
 * near 10^8, which keep only about eight digits. Loader's decomposition (as
 * R's dbinom and dpois use) keeps them all: the Stirling-series remainder
 * of log k!, which is GSL's log gammastar, and bd0(x, M) = x log(x / M) +
 * M - x, the deviance, written so that it does not cancel for x near M.
 */
static double
stirlerr(double k)
{
	return (log(gsl_sf_gammastar(k)));
}

static double
bd0(double x, double m)
{
	double d = (x - m) / m;
	/* m ((1 + d) log(1 + d) - d), which is m d^2 / 2 for small d. */
	return (m * (gsl_sf_log_1plusx_mx(d) + d * log1p(d)));
}

#define LOG_2PI 1.837877066409345483560659472811

/* log P(X = x) for X ~ binomial(n, p); q = 1 - p, lp = log p, lq =
 * log q, all given so that none loses precision. */
static double
binom_logpmf(double x, double n, double p, double q, double lp, double lq)
{
	if (x == 0.0) {
		return (n * lq);
	}
	if (x == n) {
		return (n * lp);
	}
	return (stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) -
	        bd0(n - x, n * q) +
	        0.5 * (log(n) - log(x) - log(n - x) - LOG_2PI));
}

/* log(1 - exp(l)) for l <= 0, without losing the small ones; the switch
 * at -log 2 is where each form keeps the more digits. */
static double
log1mexp(double l)
{
	return (l > -0.693147180559945309 ? log(-expm1(l)) : log1p(-exp(l)));
}

/*
 * Every interval bound here is the root of a smooth monotone equation in a
 * log-scale unknown, with a derivative that costs nothing extra, so
 * Newton's method gets there in a handful of evaluations where a bracketing
 * solver needs two or three times as many, each of which can be a sum over
 * thousands of terms.
 */
typedef void (*fdf_fn)(double t, void *arg, double *f, double *df);

/*
 * Finds the root of f, which rises with t, starting at t0: Newton steps,
 * kept inside the bracket that the signs seen so far give. Until the sign
 * has changed, a step that cannot be trusted is replaced by a step of
 * doubling size towards the root; after that, by bisection. Returns 0, or
 * -1 when no root lies within LOG_LIMIT, f is not a number, or the search
 * does not settle.
 */
static int
solve(fdf_fn fdf, void *arg, double t0, double step, double *root)
{
	double a = -LOG_LIMIT, b = LOG_LIMIT, t = t0;
	bool   have_a = false, have_b = false;

	for (int i = 0; i < ROOT_ITERS; i++) {
		double f, df, next, tol = ROOT_TOL * (1.0 + fabs(t));

		fdf(t, arg, &f, &df);
		if (isnan(f)) {
			return (-1);
		}
		if (f == 0.0) {
			*root = t;
			return (0);
		}
		if (f < 0.0) {
			a      = t;
			have_a = true;
		} else {
			b      = t;
			have_b = true;
		}
		if (have_a && have_b && b - a <= tol) {
			*root = a + (b - a) / 2.0;
			return (0);
		}
		next = t - f / df;
		/* A step too small to move t, or to matter, is the end; this
		 * comes first, since such a step can land on a bracket end. */
		if (fabs(next - t) <= tol) {
			*root = next;
			return (0);
		}
		/* Also true when the step is not a number. */
		if (!(next > a && next < b)) {
			if (have_a && have_b) {
				next = a + (b - a) / 2.0;
			} else {
				next = f < 0.0 ? t + step : t - step;
				step = step * 2.0;
				if (next <= -LOG_LIMIT || next >= LOG_LIMIT) {
					return (-1);
				}
			}
		}
		t = next;
	}
	return (-1);
}

bool
stats_percent_change(uint64_t base, uint64_t end, double *pct)
{
	if (base == 0 || pct == NULL) {
		return (false);
	}
	*pct = 100.0 * ((double)end - (double)base) / (double)base;
	return (true);
}

double
stats_rate(uint64_t count, uint64_t population, double per)
{
	if (population == 0) {
		return (NAN);
	}
	return ((double)count / (double)population * per);
}

/*
 * Poisson tails, for the Garwood interval. Its bounds are chi-square
 * quantiles, but GSL's incomplete gamma function, behind both its
 * chi-square CDF and its quantiles, is wrong near the mean for shapes in
 * the millions (2.5e-5 off at 3 million, with an "error in large x
 * asymptotic" that the default handler turns into an abort), and its
 * quantile function returns a far-off value at 250,000 without an error.
 * The same bounds are found here by solving on the Poisson CDF, summed in
 * log space from the observed count outwards, which holds at any count.
 */

/* Sum of the Poisson(mu) probabilities of k, k + dir, ..., relative to
 * that of k; k must be at or beyond the mode in direction dir. */
static double
pois_walk(double k, double mu, int dir)
{
	double sum = 1.0, term = 1.0, j = k;

	for (;;) {
		double r;
		if (dir > 0) {
			r = mu / (j + 1.0);
			j += 1.0;
		} else {
			if (j <= 0.0) {
				break;
			}
			r = j / mu;
			j -= 1.0;
		}
		term *= r;
		sum += term;
		/* Later ratios are smaller (log-concavity), so the rest is
		 * below the geometric series term * r / (1 - r). */
		if (term == 0.0 ||
		    (r < 1.0 && term * r < TAIL_EPS * sum * (1.0 - r))) {
			break;
		}
	}
	return (sum);
}

static double
pois_logpmf(double k, double mu)
{
	if (k == 0.0) {
		return (-mu);
	}
	return (-stirlerr(k) - bd0(k, mu) - 0.5 * (LOG_2PI + log(k)));
}

static double pois_log_upper(double k, double mu);

/* log P(X <= k) for X ~ Poisson(mu). */
static double
pois_log_lower(double k, double mu)
{
	if (k >= floor(mu)) {
		/* The complement is the tail that can be walked. */
		return (log1mexp(pois_log_upper(k + 1.0, mu)));
	}
	return (pois_logpmf(k, mu) + log(pois_walk(k, mu, -1)));
}

/* log P(X >= k) for X ~ Poisson(mu). */
static double
pois_log_upper(double k, double mu)
{
	if (k <= 0.0) {
		return (0.0);
	}
	if (k <= floor(mu)) {
		return (log1mexp(pois_log_lower(k - 1.0, mu)));
	}
	return (pois_logpmf(k, mu) + log(pois_walk(k, mu, 1)));
}

typedef struct {
	double k, log_alpha;
	bool   upper; /* the upper bound: P(X <= k) = alpha */
} pois_problem;

/*
 * The equation for a bound, in u = log(mu), rising with u: d/dmu P(X <= k)
 * is -pmf(k) and d/dmu P(X >= k) is pmf(k - 1) = pmf(k) k / mu.
 */
static void
pois_fdf(double u, void *arg, double *f, double *df)
{
	const pois_problem *pr = arg;
	double              mu = exp(u), lp;

	if (pr->upper) {
		lp  = pois_log_lower(pr->k, mu);
		*f  = pr->log_alpha - lp;
		*df = mu * exp(pois_logpmf(pr->k, mu) - lp);
	} else {
		lp  = pois_log_upper(pr->k, mu);
		*f  = lp - pr->log_alpha;
		*df = pr->k * exp(pois_logpmf(pr->k, mu) - lp);
	}
}

/*
 * Solves for a bound from the Wilson-Hilferty approximation to the gamma
 * quantile with shape a whose lower tail has normal score z.
 */
static int
pois_bound(pois_problem *pr, double a, double z, double *mu)
{
	double c     = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * sqrt(a));
	double guess = c > 0.05 ? a * c * c * c : a * 1.25e-4;
	double u;

	if (solve(pois_fdf, pr, log(guess), 0.5 / sqrt(a), &u) != 0) {
		return (-1);
	}
	*mu = exp(u);
	return (0);
}

static int
poisson_ci(uint64_t k, double conf, double *lower, double *upper)
{
	pois_problem pr;
	double       alpha, z, lo = 0.0, hi;

	if (!conf_ok(conf) || k > STATS_COUNT_MAX || lower == NULL ||
	    upper == NULL) {
		return (-1);
	}
	gsl_init();
	alpha        = (1.0 - conf) / 2.0;
	pr.k         = (double)k;
	pr.log_alpha = log(alpha);
	z            = gsl_cdf_ugaussian_Qinv(alpha);
	/* chi2_quantile(alpha, 2k) / 2 is the mu with P(X >= k) = alpha. */
	if (k > 0) {
		pr.upper = false;
		if (pois_bound(&pr, pr.k, -z, &lo) != 0) {
			return (-1);
		}
	}
	/* chi2_quantile(1 - alpha, 2k + 2) / 2: P(X <= k) = alpha. */
	pr.upper = true;
	if (pois_bound(&pr, pr.k + 1.0, z, &hi) != 0) {
		return (-1);
	}
	*lower = lo;
	*upper = hi;
	return (0);
}

int
stats_poisson_ci(uint64_t k, double conf, double *lower, double *upper)
{
	uint64_t key[MEMO_KEY] = {k, dbits(conf), 0, 0, 0};
	uint64_t val[MEMO_VAL] = {0, 0, 0, 0};

	if (!conf_ok(conf) || k > STATS_COUNT_MAX || lower == NULL ||
	    upper == NULL) {
		return (-1);
	}
	if (k < CI_DIRECT && conf == CI_DIRECT_CONF) {
		uint64_t hi = atomic_load_explicit(&ci_direct[k].hi,
		                                   memory_order_acquire);
		if (hi != 0) {
			*lower = bitsd(atomic_load_explicit(
			        &ci_direct[k].lo, memory_order_relaxed));
			*upper = bitsd(hi);
			return (0);
		}
		if (poisson_ci(k, conf, lower, upper) != 0) {
			return (-1);
		}
		atomic_store_explicit(&ci_direct[k].lo, dbits(*lower),
		                      memory_order_relaxed);
		atomic_store_explicit(&ci_direct[k].hi, dbits(*upper),
		                      memory_order_release);
		return (0);
	}
	if (!memo_get(memo_ci, key, val)) {
		double lo, hi;
		if (poisson_ci(k, conf, &lo, &hi) != 0) {
			return (-1);
		}
		val[0] = dbits(lo);
		val[1] = dbits(hi);
		memo_put(memo_ci, key, val);
	}
	*lower = bitsd(val[0]);
	*upper = bitsd(val[1]);
	return (0);
}

/*
 * Binomial tails, for the rate ratio: its interval is Clopper-Pearson's,
 * whose bounds are beta quantiles, and its p-value sums binomial tails.
 * GSL computes both through its incomplete beta function, whose continued
 * fraction stops converging near the centre once the shapes reach about a
 * million (it returns NAN there, and is a few parts in 10^9 off where it
 * converges), so the tails are summed here as the Poisson ones are, and the
 * quantiles found by solving on them: P(Beta(x, n - x + 1) <= p) is
 * P(Bin(n, p) >= x).
 */
typedef struct {
	double n, p, q, lp, lq;
} binom;

/* The distribution with log odds u = log(p / q). */
static void
binom_init(binom *b, double n, double u)
{
	b->n  = n;
	b->lp = -log1p(exp(-u));
	b->lq = -log1p(exp(u));
	b->p  = exp(b->lp);
	b->q  = exp(b->lq);
}

/* Sum of the probabilities of x, x + dir, ..., relative to that of x;
 * x must be at or beyond the mode in direction dir. */
static double
binom_walk(const binom *b, double x, int dir)
{
	double sum = 1.0, term = 1.0, j = x, odds = b->p / b->q;

	for (;;) {
		double r;
		if (dir > 0) {
			if (j >= b->n) {
				break;
			}
			r = (b->n - j) / (j + 1.0) * odds;
			j += 1.0;
		} else {
			if (j <= 0.0) {
				break;
			}
			r = j / (b->n - j + 1.0) / odds;
			j -= 1.0;
		}
		term *= r;
		sum += term;
		if (term == 0.0 ||
		    (r < 1.0 && term * r < TAIL_EPS * sum * (1.0 - r))) {
			break;
		}
	}
	return (sum);
}

static double
binom_lpmf(const binom *b, double x)
{
	return (binom_logpmf(x, b->n, b->p, b->q, b->lp, b->lq));
}

/* The mode, floor((n + 1) p), kept within [0, n]. */
static double
binom_mode(const binom *b)
{
	double m = floor((b->n + 1.0) * b->p);
	return (m < b->n ? m : b->n);
}

static double binom_log_upper(const binom *b, double x);

/* log P(X <= x). */
static double
binom_log_lower(const binom *b, double x)
{
	if (x >= b->n) {
		return (0.0);
	}
	if (x < 0.0) {
		return (-INFINITY);
	}
	if (x >= binom_mode(b)) {
		return (log1mexp(binom_log_upper(b, x + 1.0)));
	}
	return (binom_lpmf(b, x) + log(binom_walk(b, x, -1)));
}

/* log P(X >= x). */
static double
binom_log_upper(const binom *b, double x)
{
	if (x <= 0.0) {
		return (0.0);
	}
	if (x > b->n) {
		return (-INFINITY);
	}
	if (x <= binom_mode(b)) {
		return (log1mexp(binom_log_lower(b, x - 1.0)));
	}
	return (binom_lpmf(b, x) + log(binom_walk(b, x, 1)));
}

/*
 * The two-sided p-value of x, as R's binom.test and SciPy's binomtest
 * compute it. The probabilities fall monotonically away from n p on either
 * side, so the outcomes on the far side that are no more likely than x form
 * a tail, found by bisection.
 */
static double
binom_two_sided(const binom *b, double x)
{
	double m     = b->n * b->p;
	double limit = binom_lpmf(b, x) + log1p(REL_ERR);
	double pv, lo, hi;

	if (x == m) {
		return (1.0);
	}
	if (x < m) {
		/* First j in [ceil(m), n] within limit; n + 1 when none is. */
		lo = ceil(m);
		hi = b->n + 1.0;
		while (lo < hi) {
			double mid = floor(lo + (hi - lo) / 2.0);
			if (binom_lpmf(b, mid) <= limit) {
				hi = mid;
			} else {
				lo = mid + 1.0;
			}
		}
		pv = exp(binom_log_lower(b, x)) + exp(binom_log_upper(b, lo));
	} else {
		/* One past the last j in [0, floor(m)] within limit. */
		lo = 0.0;
		hi = floor(m) + 1.0;
		while (lo < hi) {
			double mid = floor(lo + (hi - lo) / 2.0);
			if (binom_lpmf(b, mid) <= limit) {
				lo = mid + 1.0;
			} else {
				hi = mid;
			}
		}
		pv = exp(binom_log_upper(b, x)) +
		     exp(binom_log_lower(b, lo - 1.0));
	}
	return (pv < 1.0 ? pv : 1.0);
}

typedef struct {
	double n, x, log_alpha;
	bool   upper; /* the upper bound: P(X <= x) = alpha */
} cp_problem;

/*
 * A Clopper-Pearson bound's equation in the log odds u, rising with u. With
 * dp/du = p q, d/du P(X >= x) is x q pmf(x) and d/du P(X <= x) is
 * -(n - x) p pmf(x).
 */
static void
cp_fdf(double u, void *arg, double *f, double *df)
{
	const cp_problem *pr = arg;
	binom             b;
	double            lp;

	binom_init(&b, pr->n, u);
	if (pr->upper) {
		lp  = binom_log_lower(&b, pr->x);
		*f  = pr->log_alpha - lp;
		*df = (pr->n - pr->x) * b.p * exp(binom_lpmf(&b, pr->x) - lp);
	} else {
		lp  = binom_log_upper(&b, pr->x);
		*f  = lp - pr->log_alpha;
		*df = pr->x * b.q * exp(binom_lpmf(&b, pr->x) - lp);
	}
}

/*
 * The log odds of a Clopper-Pearson bound for x out of n, from the normal
 * approximation on the log odds scale. The log odds is the log of the rate
 * ratio before scaling, so neither end loses precision to 1 - p.
 */
static int
cp_bound(double x, double n, double alpha, bool upper, double *u)
{
	cp_problem pr = {n, x, log(alpha), upper};
	double     a = upper ? x + 1.0 : x, b = upper ? n - x : n - x + 1.0;
	double     z  = gsl_cdf_ugaussian_Qinv(alpha);
	double     se = sqrt(1.0 / a + 1.0 / b);

	return (solve(cp_fdf, &pr, log(a) - log(b) + (upper ? z : -z) * se, se,
	              u));
}

static int
rate_ratio(uint64_t c_base, uint64_t c_end, double t_base, double t_end,
           double conf, stats_ratio *out)
{
	binom  b;
	double alpha, n, x, lo = 0.0, hi = 0.0, scale;

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
	n     = (double)(c_base + c_end);
	x     = (double)c_end;
	alpha = (1.0 - conf) / 2.0;
	scale = t_base / t_end;

	/* An end of [0, 1] where x is 0 or n. */
	if (x > 0.0 && cp_bound(x, n, alpha, false, &lo) != 0) {
		return (-1);
	}
	if (x < n && cp_bound(x, n, alpha, true, &hi) != 0) {
		return (-1);
	}
	/* Under ratio 1, p = t_end / (t_end + t_base): log odds
	 * log(t_end / t_base). R compares x with n p as computed in that
	 * form, so p is kept as that quotient. */
	binom_init(&b, n, log(t_end) - log(t_base));
	b.p = t_end / (t_end + t_base);
	b.q = t_base / (t_end + t_base);

	out->p_value  = binom_two_sided(&b, x);
	out->estimate = c_base == 0 ? INFINITY
	                            : (double)c_end / (double)c_base * scale;
	out->lower    = x > 0.0 ? exp(lo) * scale : 0.0;
	out->upper    = x < n ? exp(hi) * scale : INFINITY;
	return (0);
}

int
stats_rate_ratio(uint64_t c_base, uint64_t c_end, double t_base, double t_end,
                 double conf, stats_ratio *out)
{
	uint64_t key[MEMO_KEY] = {c_base, c_end, dbits(t_base), dbits(t_end),
	                          dbits(conf)};
	uint64_t val[MEMO_VAL];
	stats_ratio r;

	if (out == NULL || !conf_ok(conf)) {
		return (-1);
	}
	if (memo_get(memo_rr, key, val)) {
		words_ratio(val, out);
		return (0);
	}
	if (rate_ratio(c_base, c_end, t_base, t_end, conf, &r) != 0) {
		return (-1);
	}
	ratio_words(&r, val);
	memo_put(memo_rr, key, val);
	*out = r;
	return (0);
}

/*
 * Fisher's noncentral hypergeometric distribution
 *
 * The top-left cell of a 2x2 table with fixed margins, in R's notation: m
 * and n are the first and second column totals and k the first row total.
 * Its odds ratio is e = exp(t). Probabilities are handled relative to the
 * mode and summed outwards from it: the distribution is log-concave, so the
 * terms fall away from the mode and a sum can stop as soon as a geometric
 * bound on the rest is negligible. That keeps a sum to a few standard
 * deviations however large the counts.
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

/* f(i + 1) / f(i) for lo <= i < hi. */
static double
hyper_up(const hyper *h, double i, double e)
{
	return (e * (h->m - i) * (h->k - i) /
	        ((i + 1.0) * (h->n - h->k + i + 1.0)));
}

/* f(i - 1) / f(i) for lo < i <= hi. */
static double
hyper_down(const hyper *h, double i, double e)
{
	return (i * (h->n - h->k + i) /
	        (e * (h->m - i + 1.0) * (h->k - i + 1.0)));
}

/*
 * log(f(i) / f(j)) at log odds ratio t. C(m, i) C(n, k - i) is, up to a
 * factor that cancels, binom(m, p) at i times binom(n, p) at k - i for any
 * p; R's dhyper takes p = k / (m + n), where both are near their modes.
 */
static double
hyper_logratio(const hyper *h, double i, double j, double t)
{
	double p = h->k / (h->m + h->n), q = 1.0 - p;
	double lp = log(p), lq = log1p(-p);

	return (binom_logpmf(i, h->m, p, q, lp, lq) +
	        binom_logpmf(h->k - i, h->n, p, q, lp, lq) -
	        binom_logpmf(j, h->m, p, q, lp, lq) -
	        binom_logpmf(h->k - j, h->n, p, q, lp, lq) + (i - j) * t);
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
 * support or until the rest is negligible. The terms must not rise along
 * the way: from is the mode or beyond it in direction dir.
 */
static double
hyper_walk(const hyper *h, double from, int dir, double e)
{
	double sum = 1.0, term = 1.0, i = from;

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
		if (term == 0.0 ||
		    (r < 1.0 && term * r < TAIL_EPS * sum * (1.0 - r))) {
			break;
		}
	}
	return (sum);
}

static double hyper_log_upper(const hyper *h, double x, double t);

/*
 * log P(X <= x) at log odds ratio t, to full relative precision however
 * far out in the tail: for p-values and for tails beyond where
 * hyper_run looked.
 */
static double
hyper_log_lower(const hyper *h, double x, double t)
{
	double e = exp(t), mode, z, s;

	if (x >= h->hi) {
		return (0.0);
	}
	if (x < h->lo) {
		return (-INFINITY);
	}
	mode = hyper_mode(h, e);
	if (x >= mode) {
		return (log1mexp(hyper_log_upper(h, x + 1.0, t)));
	}
	z = hyper_walk(h, mode, 1, e) + hyper_walk(h, mode, -1, e) - 1.0;
	s = hyper_walk(h, x, -1, e);
	return (hyper_logratio(h, x, mode, t) + log(s) - log(z));
}

/* log P(X >= x) at log odds ratio t. */
static double
hyper_log_upper(const hyper *h, double x, double t)
{
	double e = exp(t), mode, z, s;

	if (x <= h->lo) {
		return (0.0);
	}
	if (x > h->hi) {
		return (-INFINITY);
	}
	mode = hyper_mode(h, e);
	if (x <= mode) {
		return (log1mexp(hyper_log_lower(h, x - 1.0, t)));
	}
	z = hyper_walk(h, mode, 1, e) + hyper_walk(h, mode, -1, e) - 1.0;
	s = hyper_walk(h, x, 1, e);
	return (hyper_logratio(h, x, mode, t) + log(s) - log(z));
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
		pv = exp(hyper_log_lower(h, x, 0.0)) +
		     exp(hyper_log_upper(h, lo, 0.0));
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
		pv = exp(hyper_log_upper(h, x, 0.0)) +
		     exp(hyper_log_lower(h, lo - 1.0, 0.0));
	}
	return (pv < 1.0 ? pv : 1.0);
}

/*
 * One walk over the distribution at log odds ratio t, out from the mode,
 * gathering what the conditional estimate and both bounds need: the mean
 * and variance, and for the observed x the mass and the mean of each tail.
 * Sums are relative to f(mode), moments taken about the mode; the tail
 * means hold sums of (i - mode) f(i) / f(mode) until the walk ends.
 */
typedef struct {
	double z, mean, var;
	double le, le_mean; /* over i <= x */
	double ge, ge_mean; /* over i >= x */
	double first, last; /* the walk covered [first, last] */
} hyper_pass;

static void
hyper_add(hyper_pass *p, double i, double d, double term, double x)
{
	if (i <= x) {
		p->le += term;
		p->le_mean += term * d;
	}
	if (i >= x) {
		p->ge += term;
		p->ge_mean += term * d;
	}
}

static void
hyper_run(const hyper *h, double t, double x, hyper_pass *p)
{
	double e = exp(t), mode = hyper_mode(h, e);
	double s0 = 1.0, s1 = 0.0, s2 = 0.0;

	p->le = p->le_mean = p->ge = p->ge_mean = 0.0;
	p->first = p->last = mode;
	hyper_add(p, mode, 0.0, 1.0, x);
	for (int dir = -1; dir <= 1; dir += 2) {
		double term = 1.0, i = mode, sum = 1.0;
		for (;;) {
			double r, d;
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
			d = i - mode;
			sum += term;
			s1 += term * d;
			s2 += term * d * d;
			hyper_add(p, i, d, term, x);
			if (term == 0.0 ||
			    (r < 1.0 &&
			     term * r < TAIL_EPS * sum * (1.0 - r))) {
				break;
			}
		}
		s0 += sum - 1.0;
		if (dir < 0) {
			p->first = i;
		} else {
			p->last = i;
		}
	}
	p->z       = s0;
	p->mean    = mode + s1 / s0;
	p->var     = s2 / s0 - (s1 / s0) * (s1 / s0);
	p->le_mean = mode + (p->le > 0.0 ? p->le_mean / p->le : 0.0);
	p->ge_mean = mode + (p->ge > 0.0 ? p->ge_mean / p->ge : 0.0);
}

typedef enum {
	EQ_MEAN,  /* E[X] = x: the conditional MLE */
	EQ_LOWER, /* P(X <= x) = alpha: the upper bound */
	EQ_UPPER, /* P(X >= x) = alpha: the lower bound */
} equation;

typedef struct {
	const hyper *h;
	double       x, log_alpha;
	equation     eq;
} hyper_problem;

/*
 * Each equation as a function that rises with t. The tails go on a log
 * scale, where they are close to straight: d/dt log P(X <= x) is
 * E[X | X <= x] - E[X], and likewise for the upper tail; d/dt E[X] is the
 * variance.
 */
static void
hyper_fdf(double t, void *arg, double *f, double *df)
{
	const hyper_problem *pr = arg;
	hyper_pass           p;
	double               lp;

	hyper_run(pr->h, t, pr->x, &p);
	switch (pr->eq) {
	case EQ_MEAN:
		*f  = p.mean - pr->x;
		*df = p.var;
		return;
	case EQ_LOWER:
		if (pr->x < p.first) {
			/* Beyond the walk: the tail is negligible next to
			 * the rest, and its conditional mean about x. */
			lp  = hyper_log_lower(pr->h, pr->x, t);
			*df = p.mean - pr->x;
		} else {
			lp  = log(p.le / p.z);
			*df = p.mean - p.le_mean;
		}
		*f = pr->log_alpha - lp;
		return;
	case EQ_UPPER:
		if (pr->x > p.last) {
			lp  = hyper_log_upper(pr->h, pr->x, t);
			*df = pr->x - p.mean;
		} else {
			lp  = log(p.ge / p.z);
			*df = p.ge_mean - p.mean;
		}
		*f = lp - pr->log_alpha;
		return;
	}
	*f = NAN;
}

static int
ratio_of_ratios(uint64_t a_base, uint64_t a_end, uint64_t b_base,
                uint64_t b_end, double conf, stats_ratio *out)
{
	hyper         h;
	hyper_problem pr;
	double        t0, se, z, pv;
	double        est = 0.0, lo = 0.0, hi = 0.0;
	double        c[4];

	if (!conf_ok(conf) || out == NULL || a_base > STATS_COUNT_MAX ||
	    a_end > STATS_COUNT_MAX - a_base ||
	    b_base > STATS_COUNT_MAX - a_base - a_end ||
	    b_end > STATS_COUNT_MAX - a_base - a_end - b_base) {
		return (-1);
	}
	/* The table [[a_end, a_base], [b_end, b_base]]: the first column is
	 * the end period, so the odds ratio is the ratio of the changes. */
	hyper_init(&h, (double)a_end + (double)b_end,
	           (double)a_base + (double)b_base,
	           (double)a_end + (double)a_base);
	if (h.lo == h.hi) {
		/* A zero margin leaves a single possible table. */
		out->estimate = NAN;
		out->lower    = 0.0;
		out->upper    = INFINITY;
		out->p_value  = 1.0;
		return (0);
	}
	gsl_init();
	pr.h         = &h;
	pr.x         = (double)a_end;
	pr.log_alpha = log((1.0 - conf) / 2.0);
	z            = gsl_cdf_ugaussian_Qinv((1.0 - conf) / 2.0);

	/* Start from the log odds ratio with half added to each cell, and
	 * its usual standard error. */
	c[0] = (double)a_end + 0.5;
	c[1] = (double)a_base + 0.5;
	c[2] = (double)b_end + 0.5;
	c[3] = (double)b_base + 0.5;
	t0   = log(c[0]) + log(c[3]) - log(c[1]) - log(c[2]);
	se   = sqrt(1.0 / c[0] + 1.0 / c[1] + 1.0 / c[2] + 1.0 / c[3]);

	/* At an end of the support the estimate is 0 or INFINITY and that
	 * side of the interval stays open. */
	if (pr.x > h.lo && pr.x < h.hi) {
		pr.eq = EQ_MEAN;
		if (solve(hyper_fdf, &pr, t0, se, &est) != 0) {
			return (-1);
		}
		t0 = est;
	}
	if (pr.x > h.lo) {
		pr.eq = EQ_UPPER;
		if (solve(hyper_fdf, &pr, t0 - z * se, se, &lo) != 0) {
			return (-1);
		}
	}
	if (pr.x < h.hi) {
		pr.eq = EQ_LOWER;
		if (solve(hyper_fdf, &pr, t0 + z * se, se, &hi) != 0) {
			return (-1);
		}
	}
	pv = hyper_two_sided(&h, pr.x);
	if (isnan(pv)) {
		return (-1);
	}
	out->estimate = pr.x == h.lo   ? 0.0
	                : pr.x == h.hi ? INFINITY
	                               : exp(est);
	out->lower    = pr.x == h.lo ? 0.0 : exp(lo);
	out->upper    = pr.x == h.hi ? INFINITY : exp(hi);
	out->p_value  = pv;
	return (0);
}

int
stats_ratio_of_ratios(uint64_t a_base, uint64_t a_end, uint64_t b_base,
                      uint64_t b_end, double conf, stats_ratio *out)
{
	uint64_t key[MEMO_KEY] = {a_base, a_end, b_base, b_end, dbits(conf)};
	uint64_t val[MEMO_VAL];
	stats_ratio r;

	if (out == NULL || !conf_ok(conf)) {
		return (-1);
	}
	if (memo_get(memo_ror, key, val)) {
		words_ratio(val, out);
		return (0);
	}
	if (ratio_of_ratios(a_base, a_end, b_base, b_end, conf, &r) != 0) {
		return (-1);
	}
	ratio_words(&r, val);
	memo_put(memo_ror, key, val);
	*out = r;
	return (0);
}

/*
 * Charts: a series as horizontal bars in the terminal (series --chart), and
 * an area against its comparators as an SVG line chart (chart --svg).
 */
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

/* ---- Shared ------------------------------------------------------------- */

/* The first series break that falls inside the periods of a series: the
 * index of the first point of the new definition, or 0 when none. */
static size_t
break_inside(const offstat_series *r, const offstat_series_break **out)
{
	for (size_t b = 0; b < r->offence.n_breaks; b++) {
		const offstat_series_break *br = &r->offence.breaks[b];
		for (size_t i = 1; i < r->n_points; i++) {
			if (r->points[i - 1].period.year < br->year &&
			    r->points[i].period.year >= br->year) {
				*out = br;
				return (i);
			}
		}
	}
	return (0);
}

/* ---- Bars in the terminal ----------------------------------------------- */

#define MIN_WIDTH 40
#define MAX_WIDTH 1000
#define MIN_BAR   10

/* $COLUMNS, else the terminal's width, else 80. */
static int
terminal_width(void)
{
	const char *env = getenv("COLUMNS");
	char       *end;
	long        v;

	if (env != NULL && env[0] != '\0') {
		v = strtol(env, &end, 10);
		if (*end == '\0' && v > 0) {
			return (v < MIN_WIDTH   ? MIN_WIDTH
			        : v > MAX_WIDTH ? MAX_WIDTH
			                        : (int)v);
		}
	}
#ifdef TIOCGWINSZ
	{
		struct winsize ws;
		if (isatty(STDOUT_FILENO) &&
		    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
		    ws.ws_col >= MIN_WIDTH) {
			return (ws.ws_col > MAX_WIDTH ? MAX_WIDTH
			                              : (int)ws.ws_col);
		}
	}
#endif
	return (80);
}

/* Block characters need a UTF-8 locale; anything else gets ASCII. */
static bool
utf8_locale(void)
{
	const char *codeset;

	/* LC_CTYPE only: numbers keep their C formatting. */
	if (setlocale(LC_CTYPE, "") == NULL) {
		return (false);
	}
	codeset = nl_langinfo(CODESET);
	return (codeset != NULL && (strcasecmp(codeset, "UTF-8") == 0 ||
	                            strcasecmp(codeset, "utf8") == 0));
}

/* Eighths of a block, U+2589 to U+258F: index n is n/8 of a cell. */
static const char *const eighths[] = {
        "",
        "\xe2\x96\x8f",
        "\xe2\x96\x8e",
        "\xe2\x96\x8d",
        "\xe2\x96\x8c",
        "\xe2\x96\x8b",
        "\xe2\x96\x8a",
        "\xe2\x96\x89",
};
#define FULL_BLOCK "\xe2\x96\x88"

/* Draws a bar of count/max of width cells; returns the cells used. A
 * count above 0 always shows, however small beside the largest. */
static int
draw_bar(struct buf *b, uint64_t count, uint64_t max, int width, bool utf8)
{
	double share = max > 0 ? (double)count / (double)max : 0;
	long   units;

	if (utf8) {
		units = lround(share * width * 8);
		if (count > 0 && units == 0) {
			units = 1;
		}
		for (long i = 0; i < units / 8; i++) {
			buf_add(b, FULL_BLOCK);
		}
		buf_add(b, eighths[units % 8]);
		return ((int)(units / 8 + (units % 8 != 0)));
	}
	units = lround(share * width);
	if (count > 0 && units == 0) {
		units = 1;
	}
	for (long i = 0; i < units; i++) {
		buf_add(b, "#");
	}
	return ((int)units);
}

/* The flags a bar shows by name: all but SMALL_NUMBER, which its mark
 * shows. */
static void
bar_flags(struct buf *b, unsigned flags)
{
	fmt_flags(b, flags & ~(unsigned)OFFSTAT_FLAG_SMALL_NUMBER, ",");
}

/* "┄┄ series break: ... ┄┄┄" across the width. */
static void
print_break_line(FILE *f, const offstat_series_break *br, int width, bool utf8)
{
	const char *dash = utf8 ? "\xe2\x94\x84" : "-";
	char        label[16];
	char        text[96];
	int         used;

	fmt_period_year(label, sizeof(label), br->year);
	snprintf(text, sizeof(text),
	         " series break: from %s not comparable with earlier years ",
	         label);
	fprintf(f, "%s%s%s", dash, dash, text);
	used = 2 + (int)strlen(text);
	for (; used < width - 1; used++) {
		fputs(dash, f);
	}
	fputc('\n', f);
}

int
chart_bars(const offstat_series *r, bool quarterly)
{
	const offstat_series_break *br      = NULL;
	size_t                      at      = break_inside(r, &br);
	bool                        utf8    = utf8_locale();
	int                         width   = terminal_width();
	struct buf                  b       = {0};
	struct buf                  line    = {0};
	uint64_t                    max     = 0;
	int                         label_w = 0;
	int                         count_w = 1;
	int                         flags_w = 0;
	bool                        small   = false;
	int                         bar_w;
	char                        num[24];
	int                         rv;

	buf_add(&b, quarterly ? ", quarterly" : ", yearly");
	if (r->n_points > 0) {
		buf_printf(&b, ", %s to %s", r->points[0].period.text,
		           r->points[r->n_points - 1].period.text);
	}
	out_heading(stdout, &r->area, &r->offence, buf_str(&b));
	if (r->n_points == 0) {
		printf("No periods in this range.\n");
		out_release(stdout, r->release);
		buf_free(&b);
		return (0);
	}

	for (size_t i = 0; i < r->n_points; i++) {
		const offstat_value *v = &r->points[i];
		int                  w = (int)text_width(v->period.text);
		label_w                = w > label_w ? w : label_w;
		if (v->present) {
			w = snprintf(num, sizeof(num), "%" PRIu64, v->count);
			count_w = w > count_w ? w : count_w;
			max     = v->count > max ? v->count : max;
			small   = small ||
			        (v->flags & OFFSTAT_FLAG_SMALL_NUMBER) != 0;
		}
		buf_reset(&b);
		bar_flags(&b, v->flags);
		flags_w = (int)b.len > flags_w ? (int)b.len : flags_w;
	}
	/* label, 2, count, mark, 2, bar, then 2 and the flags. */
	bar_w = width - 1 - label_w - 2 - count_w - (small ? 1 : 0) - 2 -
	        (flags_w > 0 ? flags_w + 2 : 0);
	if (bar_w < MIN_BAR) {
		bar_w = MIN_BAR;
	}

	for (size_t i = 0; i < r->n_points; i++) {
		const offstat_value *v = &r->points[i];
		int                  pad;

		if (br != NULL && i == at) {
			print_break_line(stdout, br, width, utf8);
		}
		buf_reset(&line);
		buf_add(&line, v->period.text);
		buf_printf(&line, "%*s  ",
		           label_w - (int)text_width(v->period.text), "");
		if (!v->present) {
			buf_printf(&line, "%*s%s  no figure", count_w, "",
			           small ? " " : "");
			printf("%s\n", buf_str(&line));
			continue;
		}
		buf_printf(&line, "%*" PRIu64 "%s  ", count_w, v->count,
		           !small ? ""
		           : (v->flags & OFFSTAT_FLAG_SMALL_NUMBER) != 0
		                   ? "*"
		                   : " ");
		pad = bar_w - draw_bar(&line, v->count, max, bar_w, utf8);
		buf_reset(&b);
		bar_flags(&b, v->flags);
		if (b.len > 0) {
			buf_printf(&line, "%*s  %s", pad > 0 ? pad : 0, "",
			           buf_str(&b));
		}
		printf("%s\n", buf_str(&line));
	}

	putchar('\n');
	if (small) {
		out_para(stdout,
		         "* small number: a count under 10; percentages and "
		         "comparisons on it mislead.",
		         2);
	}
	buf_reset(&b);
	buf_printf(&b,
	           "Bars are counts, scaled to the largest (%" PRIu64
	           "); \"no figure\" is a period without one, not a zero.",
	           max);
	out_para(stdout, buf_str(&b), 0);
	if (br != NULL) {
		char label[16];
		fmt_period_year(label, sizeof(label), br->year);
		buf_reset(&b);
		buf_printf(&b, "Series break from %s: %s", label, br->note);
		putchar('\n');
		out_para(stdout, buf_str(&b), 2);
	}
	out_legend(stdout, r->sources, r->n_sources);
	out_release(stdout, r->release);
	rv = b.failed || line.failed ? OFFSTAT_ENOMEM : 0;
	buf_free(&b);
	buf_free(&line);
	return (rv);
}

/* ---- SVG ---------------------------------------------------------------- */

/* The page, in SVG user units (pixels). */
#define SVG_WIDTH     960
#define PLOT_LEFT     90
#define PLOT_RIGHT    40
#define PLOT_TOP      88
#define PLOT_HEIGHT   340
#define LEGEND_ROW    22
#define FOOTER_ROW    16
#define FOOTER_CHARS  140 /* Characters on a footer line. */
#define XLABEL_WIDTH  76  /* Room a period label needs. */
#define SMALL_RADIUS  7
#define POINT_RADIUS  3.5
#define BAND_OPACITY  "0.18"
#define ISOLATED_HALF 5 /* Half the width of a band with one point. */

/* Okabe and Ito's palette, distinguishable with colour blindness. */
static const char *const palette[] = {
        "#0072B2", "#D55E00", "#009E73", "#CC79A7",
        "#E69F00", "#56B4E9", "#000000", "#F0E442",
};
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))

/* What one line plots at one period. */
struct mark {
	bool   has;      /* A point to plot. */
	double y;        /* Rate or count. */
	bool   has_band; /* lo and hi are set. */
	double lo;
	double hi;
	bool   small;      /* SMALL_NUMBER. */
	bool   incomplete; /* INCOMPLETE: members or quarters missing. */
};

struct svg {
	FILE        *f;
	size_t       n_lines;
	size_t       n_periods;
	struct mark *marks; /* n_lines rows of n_periods. */
	bool         rates;
	double       top; /* The y axis runs from 0 to top. */
	double       step;
	double       plot_w;
	const char **band_missing; /* Names of lines without bands. */
	size_t       n_band_missing;
};

/* Writes s as XML character data: markup escaped, control characters
 * dropped (XML 1.0 has no place for them), bytes that are not UTF-8 as
 * U+FFFD. */
static void
xml_text(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s != '\0') {
		size_t n;
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			s++;
			continue;
		case '<':
			fputs("&lt;", f);
			s++;
			continue;
		case '>':
			fputs("&gt;", f);
			s++;
			continue;
		case '"':
			fputs("&quot;", f);
			s++;
			continue;
		case '\'':
			fputs("&apos;", f);
			s++;
			continue;
		default:
			break;
		}
		if (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r') {
			s++;
			continue;
		}
		if ((n = utf8_len(s)) == 0) {
			fputs("\xef\xbf\xbd", f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
}

static double
x_of(const struct svg *g, size_t k)
{
	return (PLOT_LEFT +
	        ((double)k + 0.5) * g->plot_w / (double)g->n_periods);
}

static double
y_of(const struct svg *g, double v)
{
	double y = PLOT_TOP + PLOT_HEIGHT - v / g->top * PLOT_HEIGHT;

	/* An interval above the axis (never for these scales) stays in. */
	return (y < PLOT_TOP - 20 ? PLOT_TOP - 20 : y);
}

/* A step of 1, 2, 2.5 or 5 times a power of ten giving about five ticks. */
static void
nice_axis(struct svg *g, double max)
{
	double raw;
	double mag;
	double m;

	if (!(max > 0) || !isfinite(max)) {
		max = 1;
	}
	raw     = max / 5;
	mag     = pow(10, floor(log10(raw)));
	m       = raw / mag;
	g->step = (m <= 1     ? 1
	           : m <= 2   ? 2
	           : m <= 2.5 ? 2.5
	           : m <= 5   ? 5
	                      : 10) *
	          mag;
	g->top = ceil(max / g->step - 1e-9) * g->step;
	if (g->top <= 0) {
		g->top = g->step;
	}
}

/* The point of series r at the period p, or NULL. */
static const offstat_value *
find_point(const offstat_series *r, const offstat_period *p, size_t hint)
{
	if (hint < r->n_points && r->points[hint].period.year == p->year &&
	    r->points[hint].period.quarter == p->quarter) {
		return (&r->points[hint]);
	}
	for (size_t i = 0; i < r->n_points; i++) {
		if (r->points[i].period.year == p->year &&
		    r->points[i].period.quarter == p->quarter) {
			return (&r->points[i]);
		}
	}
	return (NULL);
}

/* What each line plots: rates when every line's population is known,
 * else counts with bands scaled back from the rate intervals. */
static void
plan(struct svg *g, offstat_series *const *lines, bool *bands)
{
	double max = 0;

	g->rates = true;
	for (size_t i = 0; i < g->n_lines; i++) {
		g->rates = g->rates && lines[i]->area.population > 0;
	}
	*bands = true;
	for (size_t i = 0; i < g->n_lines; i++) {
		bool missing_band = false;
		for (size_t k = 0; k < g->n_periods; k++) {
			const offstat_value *v = find_point(
			        lines[i], &lines[0]->points[k].period, k);
			const offstat_rate *rate;
			struct mark *m = &g->marks[i * g->n_periods + k];

			if (v == NULL || !v->present) {
				continue;
			}
			rate     = &v->rates.people;
			m->small = (v->flags & OFFSTAT_FLAG_SMALL_NUMBER) != 0;
			m->incomplete =
			        (v->flags & OFFSTAT_FLAG_INCOMPLETE) != 0;
			if (g->rates) {
				if (!rate->known) {
					continue;
				}
				m->has = true;
				m->y   = rate->per_100k;
				m->lo  = rate->lower;
				m->hi  = rate->upper;
			} else {
				m->has = true;
				m->y   = (double)v->count;
				if (rate->known && rate->population > 0) {
					double scale =
					        (double)rate->population / 1e5;
					m->lo = rate->lower * scale;
					m->hi = rate->upper * scale;
				}
			}
			m->has_band  = (rate->known && isfinite(m->lo) &&
                                       isfinite(m->hi));
			missing_band = missing_band || !m->has_band;
			max          = m->y > max ? m->y : max;
			if (m->has_band && m->hi > max) {
				max = m->hi;
			}
		}
		if (missing_band) {
			*bands = false;
			g->band_missing[g->n_band_missing++] =
			        lines[i]->area.name;
		}
	}
	nice_axis(g, max);
}

static void
svg_band(struct svg *g, size_t line, const char *colour)
{
	const struct mark *m   = &g->marks[line * g->n_periods];
	bool               any = false;

	for (size_t k = 0; k < g->n_periods;) {
		size_t end;
		if (!m[k].has || !m[k].has_band) {
			k++;
			continue;
		}
		for (end = k;
		     end < g->n_periods && m[end].has && m[end].has_band;
		     end++) {
		}
		if (!any) {
			fprintf(g->f,
			        "<path class=\"band\" fill=\"%s\" "
			        "fill-opacity=\"" BAND_OPACITY
			        "\" stroke=\"none\" d=\"",
			        colour);
			any = true;
		}
		if (end - k == 1) {
			/* One point: a narrow box, so that it shows. */
			double x = x_of(g, k);
			fprintf(g->f, "M%.1f,%.1f H%.1f V%.1f H%.1f Z ",
			        x - ISOLATED_HALF, y_of(g, m[k].hi),
			        x + ISOLATED_HALF, y_of(g, m[k].lo),
			        x - ISOLATED_HALF);
		} else {
			for (size_t i = k; i < end; i++) {
				fprintf(g->f, "%s%.1f,%.1f ",
				        i == k ? "M" : "L", x_of(g, i),
				        y_of(g, m[i].hi));
			}
			for (size_t i = end; i-- > k;) {
				fprintf(g->f, "L%.1f,%.1f ", x_of(g, i),
				        y_of(g, m[i].lo));
			}
			fputs("Z ", g->f);
		}
		k = end;
	}
	if (any) {
		fputs("\"/>\n", g->f);
	}
}

static void
svg_line(struct svg *g, size_t line, const char *colour)
{
	const struct mark *m    = &g->marks[line * g->n_periods];
	bool               any  = false;
	bool               prev = false;

	for (size_t k = 0; k < g->n_periods; k++) {
		if (!m[k].has) {
			prev = false;
			continue;
		}
		if (!any) {
			fprintf(g->f,
			        "<path class=\"line\" fill=\"none\" "
			        "stroke=\"%s\" stroke-width=\"2.5\" "
			        "stroke-linejoin=\"round\" d=\"",
			        colour);
			any = true;
		}
		/* A gap starts a new piece: absent is not zero. */
		fprintf(g->f, "%s%.1f,%.1f ", prev ? "L" : "M", x_of(g, k),
		        y_of(g, m[k].y));
		prev = true;
	}
	if (any) {
		fputs("\"/>\n", g->f);
	}
	for (size_t k = 0; k < g->n_periods; k++) {
		if (!m[k].has) {
			continue;
		}
		/* Hollow: a figure with members or quarters missing. */
		fprintf(g->f,
		        "<circle class=\"point%s\" cx=\"%.1f\" cy=\"%.1f\" "
		        "r=\"%.1f\" fill=\"%s\" stroke=\"%s\" "
		        "stroke-width=\"1.5\"/>\n",
		        m[k].incomplete ? " incomplete" : "", x_of(g, k),
		        y_of(g, m[k].y), POINT_RADIUS,
		        m[k].incomplete ? "#fff" : colour, colour);
		if (m[k].small) {
			fprintf(g->f,
			        "<circle class=\"small-number\" cx=\"%.1f\" "
			        "cy=\"%.1f\" r=\"%d\" fill=\"none\" "
			        "stroke=\"%s\" stroke-width=\"1.5\"/>\n",
			        x_of(g, k), y_of(g, m[k].y), SMALL_RADIUS,
			        colour);
		}
	}
}

static void
svg_axes(struct svg *g, offstat_series *const *lines, bool quarterly)
{
	const offstat_series *s      = lines[0];
	double                bottom = PLOT_TOP + PLOT_HEIGHT;
	size_t                every;

	fprintf(g->f, "<g class=\"axes\" font-size=\"12\" fill=\"#333\">\n");
	for (double v = 0; v <= g->top + g->step / 2; v += g->step) {
		double y = y_of(g, v);
		fprintf(g->f,
		        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"%s\" stroke-width=\"1\"/>\n",
		        PLOT_LEFT, y, PLOT_LEFT + g->plot_w, y,
		        v == 0 ? "#333" : "#ddd");
		fprintf(g->f,
		        "<text x=\"%d\" y=\"%.1f\" "
		        "text-anchor=\"end\">%.6g</text>\n",
		        PLOT_LEFT - 8, y + 4, v);
	}
	fprintf(g->f,
	        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" "
	        "stroke=\"#333\" stroke-width=\"1\"/>\n",
	        PLOT_LEFT, PLOT_TOP, PLOT_LEFT, bottom);
	/* Every period gets a tick; labels as many as fit. */
	every = (size_t)ceil((double)g->n_periods * XLABEL_WIDTH / g->plot_w);
	every = every < 1 ? 1 : every;
	for (size_t k = 0; k < g->n_periods; k++) {
		double x = x_of(g, k);
		fprintf(g->f,
		        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		        "y2=\"%.1f\" stroke=\"#333\" stroke-width=\"1\"/>\n",
		        x, bottom, x, bottom + 5);
		if (k % every == 0) {
			fprintf(g->f,
			        "<text class=\"period\" x=\"%.1f\" y=\"%.1f\" "
			        "text-anchor=\"middle\">",
			        x, bottom + 20);
			xml_text(g->f, s->points[k].period.text);
			fputs("</text>\n", g->f);
		}
	}
	fprintf(g->f,
	        "<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" "
	        "text-anchor=\"middle\" font-size=\"13\">%s</text>\n",
	        PLOT_LEFT + g->plot_w / 2, bottom + 44,
	        quarterly ? "Financial quarter (April to June is Q1)"
	                  : "Financial year (April to March)");
	fprintf(g->f,
	        "<text class=\"axis-title\" x=\"%d\" y=\"%d\" "
	        "text-anchor=\"middle\" font-size=\"13\" "
	        "transform=\"rotate(-90 %d %d)\">%s</text>\n",
	        22, PLOT_TOP + PLOT_HEIGHT / 2, 22, PLOT_TOP + PLOT_HEIGHT / 2,
	        g->rates ? "Offences per 100,000 people"
	                 : "Offences (counts: a population is unknown)");
	fputs("</g>\n", g->f);
}

static void
svg_break(struct svg *g, offstat_series *const *lines)
{
	const offstat_series_break *br = NULL;
	size_t                      at = break_inside(lines[0], &br);
	double                      x;
	char                        label[16];

	if (br == NULL) {
		return;
	}
	/* Between the last period of the old definition and the first of
	 * the new. */
	x = PLOT_LEFT + (double)at * g->plot_w / (double)g->n_periods;
	fmt_period_year(label, sizeof(label), br->year);
	fprintf(g->f,
	        "<line class=\"series-break\" x1=\"%.1f\" y1=\"%d\" "
	        "x2=\"%.1f\" y2=\"%d\" stroke=\"#555\" stroke-width=\"1.5\" "
	        "stroke-dasharray=\"6,4\"/>\n",
	        x, PLOT_TOP - 10, x, PLOT_TOP + PLOT_HEIGHT);
	fprintf(g->f,
	        "<text class=\"series-break-label\" x=\"%.1f\" y=\"%d\" "
	        "font-size=\"12\" fill=\"#555\">series break: %s on, a new "
	        "definition</text>\n",
	        x + 4, PLOT_TOP - 14, label);
}

static bool
any_mark(const struct svg *g, bool incomplete)
{
	for (size_t i = 0; i < g->n_lines * g->n_periods; i++) {
		const struct mark *m = &g->marks[i];
		if (m->has && (incomplete ? m->incomplete : m->small)) {
			return (true);
		}
	}
	return (false);
}

/* A later line that hides line i, having the same points, or 0. Lines
 * are drawn in order, so the later one is the one seen. */
static size_t
hidden_by(const struct svg *g, size_t i)
{
	const struct mark *a = &g->marks[i * g->n_periods];

	for (size_t j = i + 1; j < g->n_lines; j++) {
		const struct mark *b    = &g->marks[j * g->n_periods];
		bool               same = true;
		bool               any  = false;
		for (size_t k = 0; k < g->n_periods && same; k++) {
			same = a[k].has == b[k].has &&
			       (!a[k].has || a[k].y == b[k].y);
			any = any || a[k].has;
		}
		if (same && any) {
			return (j);
		}
	}
	return (0);
}

/* The rows svg_legend writes. */
static size_t
legend_rows(const struct svg *g)
{
	return (g->n_lines + 1 + any_mark(g, false) + any_mark(g, true) +
	        (g->n_band_missing > 0) + !g->rates);
}

/* The legend: a swatch per line, then what bands and marks mean. */
static void
svg_legend(struct svg *g, offstat_series *const *lines, double y)
{
	double x     = PLOT_LEFT;
	bool   small = any_mark(g, false);
	fputs("<g class=\"legend\" font-size=\"13\" fill=\"#222\">\n", g->f);
	for (size_t i = 0; i < g->n_lines; i++) {
		const char *colour = palette[i % N_PALETTE];
		fprintf(g->f,
		        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		        "y2=\"%.1f\" "
		        "stroke=\"%s\" stroke-width=\"3\"/>\n",
		        x, y - 4, x + 24, y - 4, colour);
		fprintf(g->f,
		        "<text class=\"legend-item\" x=\"%.1f\" y=\"%.1f\">",
		        x + 32, y);
		xml_text(g->f, lines[i]->area.name);
		if (i == 0 && g->n_lines > 1) {
			fputs(" (the area charted)", g->f);
		}
		if (hidden_by(g, i) != 0) {
			fputs(" (hidden: the same figures as ", g->f);
			xml_text(g->f, lines[hidden_by(g, i)]->area.name);
			fputs(")", g->f);
		}
		fputs("</text>\n", g->f);
		y += LEGEND_ROW;
	}
	fprintf(g->f,
	        "<rect x=\"%.1f\" y=\"%.1f\" width=\"24\" height=\"12\" "
	        "fill=\"#555\" fill-opacity=\"" BAND_OPACITY "\"/>\n",
	        x, y - 12);
	fprintf(g->f,
	        "<text class=\"legend-note\" x=\"%.1f\" y=\"%.1f\">Shaded: "
	        "the exact 95%% Poisson interval of each %s</text>\n",
	        x + 32, y, g->rates ? "rate" : "count (from its rate)");
	y += LEGEND_ROW;
	if (small) {
		fprintf(g->f,
		        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" "
		        "fill=\"none\" "
		        "stroke=\"#555\" stroke-width=\"1.5\"/>\n",
		        x + 12, y - 4, SMALL_RADIUS);
		fprintf(g->f,
		        "<text class=\"legend-note\" x=\"%.1f\" y=\"%.1f\">"
		        "Ringed: a small number (a count under 10)</text>\n",
		        x + 32, y);
		y += LEGEND_ROW;
	}
	if (any_mark(g, true)) {
		fprintf(g->f,
		        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
		        "fill=\"#fff\" stroke=\"#555\" "
		        "stroke-width=\"1.5\"/>\n",
		        x + 12, y - 4, POINT_RADIUS);
		fprintf(g->f,
		        "<text class=\"legend-note\" x=\"%.1f\" y=\"%.1f\">"
		        "Hollow: an incomplete figure, summed without some "
		        "members or quarters (its rate covers those "
		        "present)</text>\n",
		        x + 32, y);
		y += LEGEND_ROW;
	}
	if (g->n_band_missing > 0) {
		fprintf(g->f,
		        "<text class=\"legend-note\" x=\"%.1f\" y=\"%.1f\">"
		        "No band where the population is unknown: ",
		        x + 32, y);
		for (size_t i = 0; i < g->n_band_missing; i++) {
			if (i > 0) {
				fputs(", ", g->f);
			}
			xml_text(g->f, g->band_missing[i]);
		}
		fputs("</text>\n", g->f);
		y += LEGEND_ROW;
	}
	if (!g->rates) {
		fprintf(g->f,
		        "<text class=\"legend-note\" x=\"%.1f\" y=\"%.1f\">"
		        "Counts, not rates: a line's population is unknown, "
		        "so "
		        "areas of different sizes are not comparable</text>\n",
		        x + 32, y);
	}
	fputs("</g>\n", g->f);
}

/* Every source any line names, once, in the order met. */
static size_t
collect_sources(offstat_series *const *lines, size_t n,
                const offstat_source **out, size_t cap)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < lines[i]->n_sources; k++) {
			const offstat_source *s    = &lines[i]->sources[k];
			bool                  seen = false;
			for (size_t j = 0; j < count && !seen; j++) {
				seen = strcmp(out[j]->id, s->id) == 0;
			}
			if (!seen && count < cap) {
				out[count++] = s;
			}
		}
	}
	return (count);
}

/* Breaks text into lines of at most FOOTER_CHARS characters at spaces and
 * returns how many; when draw, writes each as a <text> from y down. */
static int
footer_lines(FILE *f, const char *text, double y, bool draw)
{
	const char *p     = text;
	int         lines = 0;

	while (*p != '\0') {
		size_t len = 0;
		size_t cut = 0;
		size_t w   = 0;
		while (p[len] != '\0' && w < FOOTER_CHARS) {
			if (p[len] == ' ') {
				cut = len;
			}
			if (((unsigned char)p[len] & 0xC0) != 0x80) {
				w++;
			}
			len++;
		}
		if (p[len] == '\0') {
			cut = len;
		} else if (cut == 0) {
			cut = len;
			/* Never split a UTF-8 sequence. */
			while (cut > 0 &&
			       ((unsigned char)p[cut] & 0xC0) == 0x80) {
				cut--;
			}
		}
		if (draw) {
			char *piece = strndup(p, cut);
			fprintf(f,
			        "<text class=\"footer\" x=\"%d\" y=\"%.1f\">",
			        20, y + lines * FOOTER_ROW);
			if (piece != NULL) {
				xml_text(f, piece);
			}
			fputs("</text>\n", f);
			free(piece);
		}
		lines++;
		p += cut;
		while (*p == ' ') {
			p++;
		}
	}
	return (lines);
}

int
chart_svg(FILE *f, offstat_series *const *lines, size_t n_lines,
          bool quarterly, bool *rates, bool *bands)
{
	const offstat_series  *s = lines[0];
	const offstat_source **sources;
	struct svg             g         = {0};
	struct buf             foot      = {0};
	struct buf             title     = {0};
	size_t                 n_sources = 0;
	size_t                 cap       = 0;
	double                 legend_y;
	double                 footer_y;
	int                    footer_n;
	int                    height;
	int                    rv = 0;

	g.f         = f;
	g.n_lines   = n_lines;
	g.n_periods = s->n_points;
	g.plot_w    = SVG_WIDTH - PLOT_LEFT - PLOT_RIGHT;
	for (size_t i = 0; i < n_lines; i++) {
		cap += lines[i]->n_sources;
	}
	g.marks        = calloc(n_lines * (g.n_periods > 0 ? g.n_periods : 1),
	                        sizeof(*g.marks));
	g.band_missing = calloc(n_lines, sizeof(*g.band_missing));
	sources        = calloc(cap > 0 ? cap : 1, sizeof(*sources));
	if (g.marks == NULL || g.band_missing == NULL || sources == NULL) {
		rv = OFFSTAT_ENOMEM;
		goto done;
	}
	if (g.n_periods > 0) {
		plan(&g, lines, bands);
	} else {
		nice_axis(&g, 1);
		*bands = false;
	}
	*rates    = g.rates;
	n_sources = collect_sources(lines, n_lines, sources, cap);

	/* Title: "Sexual grooming (88A): Dorset, South West and England". */
	buf_printf(&title, "%s (%s): ", s->offence.description,
	           s->offence.code);
	for (size_t i = 0; i < n_lines; i++) {
		buf_printf(&title, "%s%s",
		           i == 0             ? ""
		           : i + 1 == n_lines ? " and "
		                              : ", ",
		           lines[i]->area.name);
	}
	buf_add(&foot, "Sources: ");
	for (size_t i = 0; i < n_sources; i++) {
		const offstat_source *src = sources[i];
		buf_printf(&foot, "%s%s: %s", i > 0 ? "; " : "", src->id,
		           src->title);
		if (src->publisher[0] != '\0' &&
		    strstr(src->title, src->publisher) == NULL) {
			buf_printf(&foot, ", %s", src->publisher);
		}
		if (src->published[0] != '\0' &&
		    strstr(src->title, src->published) == NULL) {
			buf_printf(&foot, ", %s", src->published);
		}
		if (src->url[0] != '\0') {
			buf_printf(&foot, " <%s>", src->url);
		}
	}
	if (n_sources == 0) {
		buf_add(&foot, "none named");
	}
	buf_printf(&foot, ". Release %s. Rates use ONS mid-2020 populations.",
	           s->release);
	if (title.failed || foot.failed) {
		rv = OFFSTAT_ENOMEM;
		goto done;
	}

	legend_y = PLOT_TOP + PLOT_HEIGHT + 80;
	footer_y = legend_y + (double)legend_rows(&g) * LEGEND_ROW + 8;
	footer_n = footer_lines(f, buf_str(&foot), 0, false);
	height   = (int)ceil(footer_y + footer_n * FOOTER_ROW + 10);

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	        "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	        "font-family=\"Helvetica, Arial, sans-serif\">\n",
	        SVG_WIDTH, height, SVG_WIDTH, height);
	fputs("<title>", f);
	xml_text(f, buf_str(&title));
	fputs("</title>\n", f);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
	        SVG_WIDTH, height);
	fprintf(f,
	        "<text class=\"title\" x=\"%d\" y=\"32\" font-size=\"19\" "
	        "font-weight=\"bold\" fill=\"#111\">",
	        20);
	xml_text(f, buf_str(&title));
	fputs("</text>\n", f);
	fprintf(f,
	        "<text class=\"subtitle\" x=\"%d\" y=\"56\" font-size=\"14\" "
	        "fill=\"#444\">",
	        20);
	if (g.n_periods > 0) {
		fprintf(f, "%s, ",
		        g.rates ? "Rate per 100,000 people" : "Counts");
		xml_text(f, s->points[0].period.text);
		fputs(" to ", f);
		xml_text(f, s->points[g.n_periods - 1].period.text);
		fputs(quarterly ? ", by quarter" : ", by financial year", f);
		fputs(", with exact 95% intervals", f);
	} else {
		fputs("No periods in this range", f);
	}
	fputs("</text>\n", f);

	svg_axes(&g, lines, quarterly);
	fputs("<g class=\"series\">\n", f);
	for (size_t i = 0; i < n_lines; i++) {
		svg_band(&g, i, palette[i % N_PALETTE]);
	}
	for (size_t i = 0; i < n_lines; i++) {
		svg_line(&g, i, palette[i % N_PALETTE]);
	}
	fputs("</g>\n", f);
	svg_break(&g, lines);
	svg_legend(&g, lines, legend_y);
	fputs("<g font-size=\"11\" fill=\"#555\">\n", f);
	footer_lines(f, buf_str(&foot), footer_y, true);
	fputs("</g>\n</svg>\n", f);

done:
	free(g.marks);
	free(g.band_missing);
	free(sources);
	buf_free(&title);
	buf_free(&foot);
	return (rv);
}

int
out_chart(enum cli_format format, const char *file,
          offstat_series *const *lines, size_t n_lines, bool rates, bool bands)
{
	const offstat_series *s       = lines[0];
	const char           *measure = rates ? "rate_per_100k" : "count";

	if (format == CLI_JSON) {
		struct json j;
		json_init(&j, stdout);
		json_begin_object(&j, NULL);
		json_string(&j, "file", file);
		json_string(&j, "measure", measure);
		json_bool(&j, "bands", bands);
		json_begin_array(&j, "periods");
		for (size_t k = 0; k < s->n_points; k++) {
			json_string(&j, NULL, s->points[k].period.text);
		}
		json_end_array(&j);
		json_begin_array(&j, "lines");
		for (size_t i = 0; i < n_lines; i++) {
			size_t present = 0;
			for (size_t k = 0; k < lines[i]->n_points; k++) {
				present += lines[i]->points[k].present;
			}
			json_begin_object(&j, NULL);
			json_string(&j, "code", lines[i]->area.code);
			json_string(&j, "name", lines[i]->area.name);
			json_uint(&j, "points", present);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	} else if (format == CLI_CSV) {
		static const char *const cols[] = {"file",      "measure",
		                                   "bands",     "area_code",
		                                   "area_name", "points"};
		struct csv               c;
		csv_init(&c, stdout);
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
			csv_field(&c, cols[i]);
		}
		csv_end_row(&c);
		for (size_t i = 0; i < n_lines; i++) {
			size_t present = 0;
			for (size_t k = 0; k < lines[i]->n_points; k++) {
				present += lines[i]->points[k].present;
			}
			csv_field(&c, file);
			csv_field(&c, measure);
			csv_field(&c, bands ? "true" : "false");
			csv_field(&c, lines[i]->area.code);
			csv_field(&c, lines[i]->area.name);
			csv_uint(&c, present);
			csv_end_row(&c);
		}
	} else {
		printf("Wrote %s: %s", file, s->area.name);
		for (size_t i = 1; i < n_lines; i++) {
			printf("%s%s", i + 1 == n_lines ? " and " : ", ",
			       lines[i]->area.name);
		}
		if (s->n_points > 0) {
			printf(", %s to %s", s->points[0].period.text,
			       s->points[s->n_points - 1].period.text);
		}
		printf(", %s%s.\n",
		       rates ? "rate per 100,000 people" : "counts",
		       bands ? " with 95% interval bands"
		             : " (some points without an interval band)");
	}
	return (0);
}

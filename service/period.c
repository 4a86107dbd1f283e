#include "period.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const month_end[] = {"June", "September", "December",
                                        "March"};

int
period_make(unsigned year, unsigned quarter, unsigned kind, period *out)
{
	if (year < PERIOD_MIN_YEAR || year > PERIOD_MAX_YEAR) {
		return (-1);
	}
	if (kind == 0) {
		kind = quarter == 0 ? PERIOD_YEAR : PERIOD_QUARTER;
	}
	switch (kind) {
	case PERIOD_YEAR:
		if (quarter != 0) {
			return (-1);
		}
		break;
	case PERIOD_QUARTER:
	case PERIOD_ROLLING:
		if (quarter < 1 || quarter > 4) {
			return (-1);
		}
		break;
	default:
		return (-1);
	}
	out->year    = (uint16_t)year;
	out->quarter = (uint8_t)quarter;
	out->kind    = (uint8_t)kind;
	return (0);
}

bool
period_equal(const period *a, const period *b)
{
	return (a->year == b->year && a->quarter == b->quarter &&
	        a->kind == b->kind);
}

/* Reads exactly n digits. */
static int
digits(const char **sp, int n, unsigned *v)
{
	const char *s = *sp;
	unsigned    x = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i])) {
			return (-1);
		}
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*v  = x;
	*sp = s + n;
	return (0);
}

static void
skip_space(const char **sp)
{
	while (isspace((unsigned char)**sp)) {
		(*sp)++;
	}
}

/* "2017/18", "2017-18", "2017/2018", "FY2017". */
static int
parse_year(const char **sp, unsigned *year)
{
	const char *s = *sp;
	unsigned    y, next;

	if (strncasecmp(s, "FY", 2) == 0) {
		s += 2;
		skip_space(&s);
		if (digits(&s, 4, &y) != 0 || isdigit((unsigned char)*s)) {
			return (-1);
		}
		*year = y;
		*sp   = s;
		return (0);
	}
	if (digits(&s, 4, &y) != 0 || (*s != '/' && *s != '-')) {
		return (-1);
	}
	s++;
	if (digits(&s, 4, &next) == 0) {
		if (next != y + 1) {
			return (-1);
		}
	} else if (digits(&s, 2, &next) == 0) {
		if (next != (y + 1) % 100 || isdigit((unsigned char)*s)) {
			return (-1);
		}
	} else {
		return (-1);
	}
	*year = y;
	*sp   = s;
	return (0);
}

static int
parse_quarter(const char **sp, unsigned *q)
{
	const char *s = *sp;
	skip_space(&s);
	if (*s != 'Q' && *s != 'q') {
		return (-1);
	}
	s++;
	if (*s < '1' || *s > '4' || isdigit((unsigned char)s[1])) {
		return (-1);
	}
	*q  = (unsigned)(*s - '0');
	*sp = s + 1;
	return (0);
}

int
period_parse(const char *s, period *out)
{
	unsigned year, q = 0;

	if (s == NULL) {
		return (-1);
	}
	skip_space(&s);
	if (strncasecmp(s, "year ending ", 12) == 0) {
		/* "year ending June 2024": the quarter ends that month. */
		s += 12;
		skip_space(&s);
		for (unsigned i = 0; i < 4; i++) {
			size_t n = strlen(month_end[i]);
			if (strncasecmp(s, month_end[i], n) == 0 &&
			    isspace((unsigned char)s[n])) {
				unsigned cal;
				s += n;
				skip_space(&s);
				if (digits(&s, 4, &cal) != 0) {
					return (-1);
				}
				skip_space(&s);
				if (*s != '\0') {
					return (-1);
				}
				/* March ends Q4 of the year that began the
				 * April before. */
				year = i == 3 ? cal - 1 : cal;
				return (period_make(year, i + 1,
				                    PERIOD_ROLLING, out));
			}
		}
		return (-1);
	}
	bool rolling = false;
	if (strncasecmp(s, "YE", 2) == 0 && isspace((unsigned char)s[2])) {
		rolling = true;
		s += 3;
		skip_space(&s);
	}
	if (parse_year(&s, &year) != 0) {
		return (-1);
	}
	skip_space(&s);
	if (*s != '\0' && parse_quarter(&s, &q) != 0) {
		return (-1);
	}
	skip_space(&s);
	if (*s != '\0' || (rolling && q == 0)) {
		return (-1);
	}
	return (period_make(year, q,
	                    rolling ? PERIOD_ROLLING
	                    : q     ? PERIOD_QUARTER
	                            : PERIOD_YEAR,
	                    out));
}

char *
period_label(const period *p, char *buf, size_t len)
{
	switch (p->kind) {
	case PERIOD_YEAR:
		snprintf(buf, len, "%u/%02u", p->year, (p->year + 1) % 100);
		break;
	case PERIOD_QUARTER:
		snprintf(buf, len, "%u/%02u Q%u", p->year, (p->year + 1) % 100,
		         p->quarter);
		break;
	case PERIOD_ROLLING:
		snprintf(buf, len, "year ending %s %u",
		         month_end[p->quarter - 1],
		         p->quarter == 4 ? p->year + 1u : p->year);
		break;
	default:
		snprintf(buf, len, "?");
		break;
	}
	return (buf);
}

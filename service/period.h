#ifndef OFFSTAT_PERIOD_H
#define OFFSTAT_PERIOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A period of police recorded crime: a financial year (April to March), one
 * of its quarters (1 = April to June), or the rolling twelve months ending
 * with a quarter ("year ending June 2024" is 2024/25 Q1).
 */
typedef enum {
	PERIOD_YEAR    = 1,
	PERIOD_QUARTER = 2,
	PERIOD_ROLLING = 3,
} period_kind;

typedef struct {
	uint16_t year;    /* 2017 for 2017/18 */
	uint8_t  quarter; /* 0 for PERIOD_YEAR, else 1..4 */
	uint8_t  kind;    /* period_kind */
} period;

#define PERIOD_MIN_YEAR 1990
#define PERIOD_MAX_YEAR 2100
/* Enough for "year ending September 2100". */
#define PERIOD_LABEL_MAX 32

/*
 * Parses a period as people write it: "2017/18", "2017-18", "2017/2018",
 * "FY2017", "2024/25 Q1", "2024/25Q1", "YE 2024/25 Q1", "year ending June
 * 2024". Case and surrounding spaces are ignored. Returns 0, or -1 when s is
 * not a period (e.g. "2017/19", "9999/00", "2024/25 Q5").
 */
int period_parse(const char *s, period *out);
/* Builds a period from parts as the wire carries them; -1 when invalid. */
int period_make(unsigned year, unsigned quarter, unsigned kind, period *out);
/* Writes the canonical label: "2017/18", "2024/25 Q1", "year ending June
 * 2024". Returns buf. */
char *period_label(const period *p, char *buf, size_t len);
/* Quarter index for ordering and arithmetic: year * 4 + quarter - 1. */
static inline int
period_qindex(unsigned year, unsigned quarter)
{
	return ((int)year * 4 + (int)quarter - 1);
}
bool period_equal(const period *a, const period *b);

#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "period.h"

/* Text as people write it, and the period it means (0 kind = rejected). */
static const struct {
	const char *text;
	unsigned    year, quarter, kind;
	const char *label;
} cases[] = {
        {"2017/18", 2017, 0, PERIOD_YEAR, "2017/18"},
        {" 2017/18 ", 2017, 0, PERIOD_YEAR, "2017/18"},
        {"2017-18", 2017, 0, PERIOD_YEAR, "2017/18"},
        {"2017/2018", 2017, 0, PERIOD_YEAR, "2017/18"},
        {"FY2017", 2017, 0, PERIOD_YEAR, "2017/18"},
        {"fy 2020", 2020, 0, PERIOD_YEAR, "2020/21"},
        {"1999/00", 1999, 0, PERIOD_YEAR, "1999/00"},
        {"2024/25 Q1", 2024, 1, PERIOD_QUARTER, "2024/25 Q1"},
        {"2024/25q4", 2024, 4, PERIOD_QUARTER, "2024/25 Q4"},
        {"YE 2024/25 Q1", 2024, 1, PERIOD_ROLLING, "year ending June 2024"},
        {"year ending June 2024", 2024, 1, PERIOD_ROLLING,
         "year ending June 2024"},
        {"Year Ending December 2023", 2023, 3, PERIOD_ROLLING,
         "year ending December 2023"},
        {"year ending March 2017", 2016, 4, PERIOD_ROLLING,
         "year ending March 2017"},
        /* Rejected. */
        {"2017/19", 0, 0, 0, NULL},
        {"2017/2019", 0, 0, 0, NULL},
        {"9999/00", 0, 0, 0, NULL},
        {"1800/01", 0, 0, 0, NULL},
        {"2024/25 Q5", 0, 0, 0, NULL},
        {"2024/25 Q0", 0, 0, 0, NULL},
        {"2024/25 Q12", 0, 0, 0, NULL},
        {"2017", 0, 0, 0, NULL},
        {"2017/18 extra", 0, 0, 0, NULL},
        {"YE 2017/18", 0, 0, 0, NULL},
        {"year ending May 2024", 0, 0, 0, NULL},
        {"year ending June", 0, 0, 0, NULL},
        {"", 0, 0, 0, NULL},
        {"Q1", 0, 0, 0, NULL},
        {"20l7/18", 0, 0, 0, NULL},
        {"2017/180", 0, 0, 0, NULL},
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		period p;
		int    rv = period_parse(cases[i].text, &p);
		if (cases[i].kind == 0) {
			if (rv == 0) {
				fail_msg("'%s' parsed", cases[i].text);
			}
			continue;
		}
		if (rv != 0) {
			fail_msg("'%s' did not parse", cases[i].text);
		}
		assert_int_equal(p.year, cases[i].year);
		assert_int_equal(p.quarter, cases[i].quarter);
		assert_int_equal(p.kind, cases[i].kind);
		char buf[PERIOD_LABEL_MAX];
		assert_string_equal(period_label(&p, buf, sizeof(buf)),
		                    cases[i].label);
		/* The label parses back to the same period. */
		period again;
		assert_int_equal(period_parse(buf, &again), 0);
		assert_true(period_equal(&p, &again));
	}
	period p;
	assert_int_equal(period_parse(NULL, &p), -1);
}

static void
test_make(void **state)
{
	(void)state;
	period p;
	assert_int_equal(period_make(2017, 0, 0, &p), 0);
	assert_int_equal(p.kind, PERIOD_YEAR);
	assert_int_equal(period_make(2017, 2, 0, &p), 0);
	assert_int_equal(p.kind, PERIOD_QUARTER);
	assert_int_equal(period_make(2017, 0, PERIOD_QUARTER, &p), -1);
	assert_int_equal(period_make(2017, 3, PERIOD_YEAR, &p), -1);
	assert_int_equal(period_make(2017, 5, 0, &p), -1);
	assert_int_equal(period_make(2017, 1, 9, &p), -1);
	assert_int_equal(period_make(1989, 0, 0, &p), -1);
	assert_int_equal(period_make(2101, 0, 0, &p), -1);
	assert_int_equal(period_qindex(2024, 1) + 3, period_qindex(2024, 4));
	assert_int_equal(period_qindex(2024, 4) + 1, period_qindex(2025, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_make),
	};
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * The arm64 lab programs' checks (plain C, no Criterion: one line per
 * check, so that the lab's log reads as a list): CHECK prints `ok` or
 * `FAIL` (with where) and counts failures; main ends with
 * `return check64_done("name")`, which prints the verdict line and gives
 * the exit status.
 */
#ifndef CHECK64_H
#define CHECK64_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (cond) {                                                       \
			printf("ok   ");                                          \
			printf(__VA_ARGS__);                                      \
			printf("\n");                                             \
		} else {                                                          \
			printf("FAIL ");                                          \
			printf(__VA_ARGS__);                                      \
			printf("  (%s:%d)\n", __FILE__, __LINE__);                \
			failures++;                                               \
		}                                                                 \
	} while (0)

static inline int check64_done(const char *name)
{
	printf("%s: %s\n", name, failures ? "FAILED" : "passed");
	return failures ? 1 : 0;
}

#endif

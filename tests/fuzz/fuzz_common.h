/*
 * Helpers shared by the libFuzzer harnesses (tests/fuzz/README.md).
 */
#ifndef HVD_FUZZ_COMMON_H
#define HVD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Values read from decoded data go here, so that every read happens and
 * the sanitizers see it. */
static volatile uint64_t fuzz_sink;

static inline void fuzz_use(uint64_t v)
{
	fuzz_sink += v;
}

static inline void fuzz_use_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0;
	for (size_t i = 0; i < n; i++)
		h = h * 31 + b[i];
	fuzz_sink += h;
}

static inline void fuzz_use_str(const char *s)
{
	if (s)
		fuzz_use_bytes(s, strlen(s));
}

/* An invariant of the code under test does not hold: a bug, reported as
 * a crash so that libFuzzer saves the input. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* Consume the input as a stream of integers (zeros past the end). */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		v <<= 8;
		if (in->n) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

#endif

/* hvd's clock (hvd_time.c). Any thread. */
#ifndef HVD_TIME_H
#define HVD_TIME_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: uptimes, ages, rate windows. */
uint64_t hvd_now_ms(void);

#endif

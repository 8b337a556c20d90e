/*
 * hvctl's output: messages on stderr, aligned tables and human units for
 * people, JSON (json-c) for programs, and the names of Apple's status codes
 * and VMX exit reasons.
 */
#ifndef HVCTL_OUT_H
#define HVCTL_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "hvd.pb-c.h"

/* "hvctl: CMD: message" on stderr. The message names the problem and,
 * after " — ", its fix. */
void hvctl_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "hvctl CMD: message — see 'hvctl --help'" on stderr; returns
 * HVCTL_EXIT_USAGE so a handler can `return hvctl_usage(...)`. */
int hvctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "HV_DENIED" for an hv_return_t, NULL for a code without a name. */
const char *hvctl_status_name(int32_t status);

/* Apple's name of a VMX exit reason without its VMX_REASON_ prefix ("IO"
 * for 30), or NULL for a number Apple does not name. */
const char *hvctl_exit_name(uint32_t reason);

/* Human units into `buf` (returned): 1.5 GiB, 3m12s, 1.25ms. */
char *hvctl_fmt_bytes(char *buf, size_t len, uint64_t bytes);
char *hvctl_fmt_ms(char *buf, size_t len, uint64_t ms);
char *hvctl_fmt_ns(char *buf, size_t len, uint64_t ns);
/* "rwx" from HV_MEMORY_* flags, '-' for each one missing. */
char *hvctl_fmt_prot(char *buf, size_t len, uint64_t flags);

/* Parse a whole decimal number in [0, max]; false if `s` is anything else. */
bool hvctl_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* An aligned table: columns sized to their widest cell, two spaces apart,
 * numbers right-aligned. Cells are added left to right, row after row. */
struct hvctl_col {
	const char *name;
	bool right;
};
struct hvctl_table;
struct hvctl_table *hvctl_table_create(const struct hvctl_col *cols, unsigned ncols);
void hvctl_table_cell(struct hvctl_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hvctl_table_print(const struct hvctl_table *t, FILE *f);
void hvctl_table_destroy(struct hvctl_table *t);

/* "key:  value" lines with the values aligned. */
void hvctl_kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print `o` as pretty JSON on stdout followed by a newline, and drop the
 * reference. Returns an exit code (HVCTL_EXIT_FAILED if `o` is NULL:
 * out of memory). */
int hvctl_json_print(json_object *o);

/* json-c shorthands that tolerate NULL strings ("" instead). */
void hvctl_json_str(json_object *o, const char *key, const char *v);
void hvctl_json_u64(json_object *o, const char *key, uint64_t v);
void hvctl_json_i64(json_object *o, const char *key, int64_t v);
void hvctl_json_bool(json_object *o, const char *key, bool v);
json_object *hvctl_json_strv(char **v, size_t n);

/* Write `data` to `path` with `mode` (exactly: not widened by the umask,
 * not narrowed either); with `excl`, refuse to replace an existing file.
 * Returns an exit code after saying what went wrong. */
int hvctl_write_file(const char *cmd, const char *path, const void *data, size_t len,
		     mode_t mode, bool excl);

/* Read a whole file of at most `max` bytes into a malloc'd, NUL-terminated
 * *out. Returns an exit code after saying what went wrong. */
int hvctl_read_file(const char *cmd, const char *path, size_t max, char **out, size_t *len);

/* The fields `list` shows of a VM, as a JSON object (NULL: no memory). */
json_object *hvctl_vm_json(const Hvdp__VmInfo *vi);

#endif

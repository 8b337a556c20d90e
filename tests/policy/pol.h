/*
 * pol.h: the harness of the policy tests. Each test starts its own hvd
 * with a configuration file in a private temporary directory, runs real
 * client processes (policy_client) and hvctl under chosen uids, and reads
 * hvd's audit log (JSON lines) and hvctl's --json output with json-c.
 *
 * Environment (set by CMake): HVD_TEST_DAEMON (hvd), HVD_TEST_HVCTL
 * (hvctl), HVD_TEST_POLICY_CLIENT (policy_client).
 *
 * Nothing here asserts on time: waits poll for a condition and give up
 * after POL_WAIT_MS, so that a broken hvd fails a test instead of hanging
 * it.
 */
#ifndef POL_H
#define POL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#define POL_WAIT_MS 15000

/* Unprivileged ids the tests run clients as (no /etc/passwd entries
 * needed). */
#define UID_A 60001
#define UID_B 60002
#define UID_C 60003
#define UID_D 60004
#define GID_USERS 60000   /* primary group of the test users */
#define GID_EXTRA 60010   /* a supplementary group for group rules */

/* Status codes as the client prints them. */
#define ST_SUCCESS 0u
#define ST_NO_RESOURCES 0xfae94005u
#define ST_DENIED 0xfae94007u

struct pol_hvd {
	pid_t pid;             /* -1 when not running */
	char dir[64];          /* private directory, mode 0755 */
	char sock[128];
	char conf[128];        /* the configuration file */
	char audit[128];       /* audit log (the config must say audit = this) */
	char log[128];         /* hvd's stderr */
	char state[128];       /* hvd's --state-dir (hvd makes it) */
	const char *args[8];   /* more options for hvd, NULL-terminated (e.g. --cgroups) */
	const char *cgroup_procs[2]; /* cgroup.procs files hvd's process enters before exec */
	/* Not 0: hvd starts as this uid and gid with no supplementary groups,
	 * as under systemd's User= (hvd.service), with /dev/kvm its own in a
	 * mount namespace of its own (here /dev/kvm is root's, mode 0600). */
	uid_t run_uid;
	gid_t run_gid;
};

/* Makes the private directory and fills the paths; no hvd yet. */
void pol_init(struct pol_hvd *h);

/* Writes `text` to the configuration file (replacing it). "@AUDIT@" and
 * "@DIR@" in the text are replaced by the audit path and the directory. */
void pol_write_conf(struct pol_hvd *h, const char *text);

/* Writes `text` to `path` (relative paths are under the directory). */
void pol_write_file(struct pol_hvd *h, const char *path, const char *text, size_t len);

/* Starts hvd on the configuration file and waits for its socket. */
void pol_start(struct pol_hvd *h);

/* Stops hvd and removes the directory. Safe to call twice. */
void pol_stop(struct pol_hvd *h);

/* Kills every client still running and stops every hvd this process
 * started: the .fini of every suite, so a failed test leaves nothing. */
void pol_cleanup(void);
/* A process of the test's own that pol_cleanup (and pol_done) kills and
 * reaps if it still runs; untrack it once it has been reaped. */
void pol_track_child(pid_t pid);
void pol_untrack_child(pid_t pid);

/* The end of every test: kills the clients still running and stops hvd,
 * failing the test if hvd does not stop cleanly (a crash, a hang, a
 * sanitizer's report). Assertions in a suite's .fini do not count. */
void pol_done(void);

/* A client process: its pid, its stdin (ours to write, -1 once closed)
 * and its stdout (ours to read). */
struct pol_proc {
	pid_t pid;
	int in;
	int out;
	char buf[4096];
	size_t len;
};

/* Starts policy_client as `uid` (primary group GID_USERS, plus
 * `extra_gid` as a supplementary group if it is not 0) with the
 * arguments, NULL-terminated. */
void pol_client_start(struct pol_hvd *h, struct pol_proc *p, uid_t uid, gid_t extra_gid, ...);

/* Reads the client's next output line (without the newline) into `line`;
 * fails the test if there is none within POL_WAIT_MS. */
void pol_client_line(struct pol_proc *p, char *line, size_t len);

/* Reads the next line and expects "KEY=0x..." ; returns the value. */
unsigned pol_client_result(struct pol_proc *p, const char *key);

/* Sends a command line to a holding client and returns its result for
 * `key` (e.g. pol_client_cmd(p, "map", "map 4096 0x100000")). */
unsigned pol_client_cmd(struct pol_proc *p, const char *key, const char *cmd);

/* Closes the client's stdin and waits for it; returns its exit status
 * (or -1 if it did not exit normally). */
int pol_client_finish(struct pol_proc *p);

/* Runs policy_client as `uid` to completion with the arguments and
 * returns the result of its first call (create= or cap=). */
unsigned pol_client_once(struct pol_hvd *h, uid_t uid, gid_t extra_gid, ...);

/* Runs hvctl as `uid` (0: root) with `--socket SOCK` first if `sock` and
 * the arguments (NULL-terminated). Captures stdout and stderr (malloc'd,
 * NUL-terminated, caller frees; either pointer may be NULL) and returns
 * the exit status (-1 if it did not exit normally). */
int pol_hvctl(struct pol_hvd *h, uid_t uid, char **out, char **err, ...);

/* Like pol_hvctl, expects exit 0 and parses stdout as JSON. */
json_object *pol_hvctl_json(struct pol_hvd *h, uid_t uid, ...);

/* Audit lines (parsed) matching every non-NULL/non-negative criterion:
 * decision, request, uid (-1: any), pid (-1: any). Returns how many; the
 * first match's reason is copied to `reason` if given. */
int pol_audit_count(struct pol_hvd *h, const char *decision, const char *request,
		    long uid, long pid, char *reason, size_t reason_len);

/* Polls `hvctl status --json` as root until the "vms" count is `vms`. */
void pol_wait_vms(struct pol_hvd *h, unsigned vms);

/* `hvctl show --json` (as root) of the VM of client `pid`; asserts that
 * there is one. The caller puts the object. */
json_object *pol_show_vm(struct pol_hvd *h, pid_t pid);

/* Number of times `needle` occurs in hvd's stderr log. */
int pol_log_count(struct pol_hvd *h, const char *needle);

/* json-c helpers: a member (asserting it exists), and its values. */
json_object *pol_get(json_object *o, const char *key);
long long pol_int(json_object *o, const char *key);
const char *pol_str(json_object *o, const char *key);
bool pol_bool(json_object *o, const char *key);
/* Does the JSON array of strings contain `s`? */
bool pol_strv_has(json_object *arr, const char *s);
/* The element of array `arr` whose integer member `key` is `v`, or NULL. */
json_object *pol_find(json_object *arr, const char *key, long long v);

/* The executable paths from the environment. */
const char *pol_client_path(void);
const char *pol_hvctl_path(void);

/* Reads a whole file (malloc'd, NUL-terminated). */
char *pol_read_file(const char *path, size_t *len);

long long pol_now_ms(void);
void pol_sleep_ms(long ms);

/* The protobuf wire's varints, for the tests that speak to hvd's socket
 * without a codec (a foreign client would): encode `v` at `p` (at most 10
 * bytes), returning the length; decode one at *p (advanced), false if the
 * input ends first. */
size_t pol_put_varint(uint8_t *p, uint64_t v);
bool pol_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

#endif

/*
 * The audit log across reloads, with hvd started by hand as root (as
 * operations.md documents and containers without systemd do): hvd opens
 * the log as root, then runs as another uid without capabilities.
 *
 * - A log in a directory only root may enter: reloads (hvctl, SIGHUP)
 *   keep working and keep writing to it.
 * - A log that logrotate moved away: the reload opens the path again, and
 *   new lines go there, not to the rotated file.
 * - Where hvd cannot create it again, or a new path it cannot open: the
 *   reload fails, and hvctl prints hvd's words, which name the path, the
 *   uid and the cause, not "fix the file".
 * - Where hvd could not create a rotated log again, it warns at start.
 * - No audit path: audit lines stay off hvd's stderr.
 * - Denials and quota refusals are log lines as well as audit lines.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "pol.h"

static struct pol_hvd H;

static const char conf[] =
	"[hvd]\n"
	"audit = @AUDIT@\n"
	"\n"
	"[rule alice]\n"
	"uid = 60001\n"
	"entitlements = com.apple.security.hypervisor\n";

/* Puts the audit log in `sub` (mode `mode`, root's) of the test's
 * directory, and starts hvd. */
static void start_in(const char *sub, mode_t mode)
{
	char dir[96];
	pol_init(&H);
	snprintf(dir, sizeof(dir), "%.63s/%.16s", H.dir, sub);
	cr_assert_eq(mkdir(dir, mode), 0, "mkdir %s: %s", dir, strerror(errno));
	cr_assert_eq(chmod(dir, mode), 0);
	snprintf(H.audit, sizeof(H.audit), "%s/audit.log", dir);
	pol_write_conf(&H, conf);
	pol_start(&H);
}

static int reload(char **err)
{
	char *out = NULL;
	*err = NULL;
	int r = pol_hvctl(&H, 0, &out, err, "policy", "reload", NULL);
	free(out);
	return r;
}

/* Audit lines of uid 60001's evaluated sessions in file `path`. */
static int evaluated_in(const char *path)
{
	struct pol_hvd view = H;
	snprintf(view.audit, sizeof(view.audit), "%s", path);
	return pol_audit_count(&view, "evaluated", "session", UID_A, -1, NULL, 0);
}

TestSuite(audit, .fini = pol_cleanup);

Test(audit, reload_keeps_a_log_in_a_directory_only_root_may_enter)
{
	char *err;
	start_in("private", 0700);
	cr_assert_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	int before = evaluated_in(H.audit);
	cr_assert_geq(before, 1, "hvd audits to %s", H.audit);

	int r = reload(&err);
	cr_expect_eq(r, 0, "reload exited %d: %s", r, err);
	free(err);
	r = reload(&err);
	cr_expect_eq(r, 0, "a second reload exited %d: %s", r, err);
	free(err);
	/* SIGHUP answers nobody: a failure shows only in hvd's log. */
	cr_assert_eq(kill(H.pid, SIGHUP), 0);
	pol_sleep_ms(300);
	cr_expect_eq(pol_log_count(&H, "reload failed"), 0, "the SIGHUP reload failed");
	cr_assert_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	cr_expect_gt(evaluated_in(H.audit), before, "hvd still writes the log after reloads");
	pol_done();
}

Test(audit, a_rotated_log_is_opened_again_by_the_reload)
{
	char *err, rotated[200];
	/* Writable by the uid hvd becomes (hvd.tmpfiles makes /var/log/hvd
	 * the hvd user's). */
	start_in("log", 0777);
	cr_expect_eq(pol_log_count(&H, "is not writable by uid"), 0, "a warning for nothing");
	cr_assert_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	snprintf(rotated, sizeof(rotated), "%s.1", H.audit);
	cr_assert_eq(rename(H.audit, rotated), 0);
	int old = evaluated_in(rotated);

	int r = reload(&err);
	cr_expect_eq(r, 0, "reload after rotation exited %d: %s", r, err);
	free(err);
	struct stat st;
	cr_expect_eq(stat(H.audit, &st), 0, "the reload created %s again", H.audit);
	cr_assert_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	cr_expect_eq(evaluated_in(H.audit), 1, "the new decision is in the new file");
	cr_expect_eq(evaluated_in(rotated), old, "nothing more goes to the rotated file");
	pol_done();
}

Test(audit, a_rotated_log_hvd_cannot_create_again_names_the_cause)
{
	if (getenv("HVD_TEST_KEEPS_ROOT"))
		cr_skip_test("hvd keeps root here (--no-sandbox, scripts/valgrind.sh): "
			     "it can open what root can");
	char *err, rotated[200];
	/* hvd may enter the directory but not create files in it. */
	start_in("ro", 0755);
	cr_expect_eq(pol_log_count(&H, "is not writable by uid"), 1,
		     "no warning at start that a rotated log could not be created again");
	snprintf(rotated, sizeof(rotated), "%s.1", H.audit);
	cr_assert_eq(rename(H.audit, rotated), 0);

	int r = reload(&err);
	cr_expect_eq(r, 1, "reload exited %d: %s", r, err);
	cr_expect(strstr(err, H.audit), "hvctl names the audit path: %s", err);
	cr_expect(strstr(err, "Permission denied"), "and the cause: %s", err);
	cr_expect(strstr(err, "moved away"), "and what happened: %s", err);
	cr_expect(strstr(err, "as uid"), "and the uid hvd runs as: %s", err);
	cr_expect(!strstr(err, "policy check"), "and does not blame the file: %s", err);
	free(err);
	/* The old policy and log stay: the reload is refused as a whole. */
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	cr_expect_geq(evaluated_in(rotated), 1, "the open log still gets the lines");
	pol_done();
}

Test(audit, a_new_path_hvd_cannot_open_names_the_cause)
{
	if (getenv("HVD_TEST_KEEPS_ROOT"))
		cr_skip_test("hvd keeps root here (--no-sandbox, scripts/valgrind.sh): "
			     "it can open what root can");
	char *err, newdir[200], newpath[240];
	start_in("log", 0777);
	snprintf(newdir, sizeof(newdir), "%s/private", H.dir);
	cr_assert_eq(mkdir(newdir, 0700), 0);
	snprintf(newpath, sizeof(newpath), "%s/audit.log", newdir);
	char *text = NULL;
	cr_assert_gt(asprintf(&text, "[hvd]\naudit = %s\n\n[rule alice]\nuid = 60001\n"
			      "entitlements = com.apple.security.hypervisor\n", newpath), 0);
	pol_write_file(&H, H.conf, text, strlen(text));
	free(text);

	int r = reload(&err);
	cr_expect_eq(r, 1, "reload exited %d: %s", r, err);
	cr_expect(strstr(err, newpath), "hvctl names the new audit path: %s", err);
	cr_expect(strstr(err, "Permission denied"), "and the cause: %s", err);
	cr_expect(strstr(err, "as uid"), "and the uid hvd runs as: %s", err);
	cr_expect(!strstr(err, "policy check"), "and does not blame the file: %s", err);
	free(err);
	cr_expect_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	cr_expect_geq(evaluated_in(H.audit), 1, "the old log stays in use");
	pol_done();
}

Test(audit, without_an_audit_path_audit_lines_stay_off_stderr)
{
	pol_init(&H);
	pol_write_conf(&H, "[rule alice]\nuid = 60001\n"
			   "entitlements = com.apple.security.hypervisor\n");
	pol_start(&H);
	cr_assert_eq(pol_client_once(&H, UID_A, 0, NULL), ST_SUCCESS);
	cr_assert_eq(pol_client_once(&H, UID_B, 0, NULL), ST_DENIED);
	cr_expect_eq(pol_log_count(&H, "\"decision\""), 0, "audit lines on hvd's stderr");
	pol_done();
}

Test(audit, denials_and_quota_refusals_are_log_lines_too)
{
	pol_init(&H);
	pol_write_conf(&H, "[hvd]\naudit = @AUDIT@\n\n"
			   "[tenant shut]\nmax_vms = 0\n\n"
			   "[rule carol]\nuid = 60003\n"
			   "entitlements = com.apple.security.hypervisor\ntenant = shut\n");
	pol_start(&H);
	cr_assert_eq(pol_client_once(&H, UID_B, 0, NULL), ST_DENIED);
	cr_assert_eq(pol_client_once(&H, UID_C, 0, NULL), ST_NO_RESOURCES);
	/* hvd runs with --log-level warn: these lines are warnings. */
	cr_expect_eq(pol_log_count(&H, "uid 60002): vm_create deny: "), 1,
		     "the denial is not in hvd's log");
	cr_expect_eq(pol_log_count(&H, "uid 60003): vm_create quota: "), 1,
		     "the quota refusal is not in hvd's log");
	cr_expect_eq(pol_audit_count(&H, "quota", "vm_create", UID_C, -1, NULL, 0), 1,
		     "and it is still audited");
	pol_done();
}

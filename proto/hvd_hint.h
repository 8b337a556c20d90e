/*
 * The words hvd's clients use to say why they cannot work with hvd, and
 * what fixes it: one text for hvctl and libhvclient, so that a user reads
 * the same sentence from both (prefix hvd_hint_). No allocation and no
 * output here; the callers print.
 */
#ifndef HVD_HINT_H
#define HVD_HINT_H

#include <stddef.h>
#include <stdint.h>

/* Who asks: the fixes name the way that program is told the socket. */
enum hvd_hint_who {
	HVD_HINT_HVCTL,   /* --socket PATH or HVD_SOCKET */
	HVD_HINT_CLIENT,  /* HVD_SOCKET (libhvclient) */
};

/* The errno to report for connect() failing with `err` on `path`. Linux
 * answers ECONNREFUSED both for a socket nobody listens on and for a path
 * that is no socket at all; the second is told apart with stat() and
 * becomes ENOTSOCK. Other values are returned as they are. */
int hvd_hint_connect_errno(int err, const char *path);

/* The fix for a failed connect(), by errno. */
const char *hvd_hint_connect(int err, enum hvd_hint_who who);

/* "cannot reach hvd at PATH: STRERROR — FIX" into buf (returned). */
char *hvd_hint_connect_msg(char *buf, size_t len, const char *path, int err,
			   enum hvd_hint_who who);

/* "hvd at PATH speaks protocol THEIRS, PROGRAM speaks OURS — use the
 * PROGRAM that came with this hvd" into buf (returned). */
char *hvd_hint_protocol_msg(char *buf, size_t len, const char *path, uint32_t theirs,
			    uint32_t ours, enum hvd_hint_who who);

/* "HV_DENIED" for an hv_return_t, NULL for a code without a name. */
const char *hvd_hint_status_name(int32_t status);

/* What a failed status means when hvd gave no reason ("permission
 * denied"). */
const char *hvd_hint_status_why(int32_t status);

/* The fix for a failed status, or NULL when there is no better advice
 * than the caller's own. */
const char *hvd_hint_status_fix(int32_t status, enum hvd_hint_who who);

#endif

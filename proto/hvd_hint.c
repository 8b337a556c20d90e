/*
 * See hvd_hint.h. The sentences were hvctl's (hvctl/ipc.c); libhvclient
 * says the same, with HVD_SOCKET as the only way to name the socket.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* arm64's return codes live in hv_kern_types.h (as in Apple's SDK),
 * Intel's in hv_error.h. */
#if defined(__aarch64__)
#include <arm64/hv/hv_kern_types.h>
#else
#include <Hypervisor/hv_error.h>
#endif

#include "hvd_hint.h"

int hvd_hint_connect_errno(int err, const char *path)
{
	struct stat st;

	if (err == ECONNREFUSED && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return ENOTSOCK;
	return err;
}

const char *hvd_hint_connect(int err, enum hvd_hint_who who)
{
	bool ctl = who == HVD_HINT_HVCTL;

	switch (err) {
	case ENOENT:
		return ctl ? "is hvd running? Start it (systemctl start hvd), or name its "
			     "socket with --socket PATH or HVD_SOCKET" :
			     "is hvd running? Start it (systemctl start hvd), or name its "
			     "socket with HVD_SOCKET";
	case ECONNREFUSED:
		return "nothing listens there (hvd stopped and left its socket); start hvd";
	case EACCES:
	case EPERM:
		return "you may not open hvd's socket; join the group that owns it, or run as root";
	case ENOTSOCK:
	case EPROTOTYPE:
		return ctl ? "that path is not hvd's socket; check --socket or HVD_SOCKET" :
			     "that path is not hvd's socket; check HVD_SOCKET";
	case ENAMETOOLONG:
		return ctl ? "use a shorter --socket or HVD_SOCKET" : "use a shorter HVD_SOCKET";
	default:
		return ctl ? "check that hvd is running and --socket or HVD_SOCKET names its socket" :
			     "check that hvd is running and HVD_SOCKET names its socket";
	}
}

char *hvd_hint_connect_msg(char *buf, size_t len, const char *path, int err,
			   enum hvd_hint_who who)
{
	/* strerror(ENOTSOCK) is "Socket operation on non-socket", which reads
	 * like a bug; say what the path is instead. */
	const char *what = err == ENOTSOCK ? "not a socket" : strerror(err);
	snprintf(buf, len, "cannot reach hvd at %s: %s — %s", path, what,
		 hvd_hint_connect(err, who));
	return buf;
}

char *hvd_hint_protocol_msg(char *buf, size_t len, const char *path, uint32_t theirs,
			    uint32_t ours, enum hvd_hint_who who)
{
	const char *prog = who == HVD_HINT_HVCTL ? "hvctl" : "libhvclient";
	snprintf(buf, len, "hvd at %s speaks protocol %u, %s speaks %u — use the %s "
		 "that came with this hvd", path, (unsigned)theirs, prog, (unsigned)ours, prog);
	return buf;
}

const char *hvd_hint_status_name(int32_t status)
{
	/* Apple's codes are negative as int32 (hv_error.h); compare as such. */
	static const struct {
		int32_t code;
		const char *name;
	} names[] = {
		{ HV_SUCCESS, "HV_SUCCESS" },
		{ HV_ERROR, "HV_ERROR" },
		{ HV_BUSY, "HV_BUSY" },
		{ HV_BAD_ARGUMENT, "HV_BAD_ARGUMENT" },
		{ HV_NO_RESOURCES, "HV_NO_RESOURCES" },
		{ HV_NO_DEVICE, "HV_NO_DEVICE" },
		{ HV_DENIED, "HV_DENIED" },
#if defined(__aarch64__)
		{ HV_ILLEGAL_GUEST_STATE, "HV_ILLEGAL_GUEST_STATE" },
		{ HV_EXISTS, "HV_EXISTS" },
#else
		{ HV_FAULT, "HV_FAULT" },
#endif
		{ HV_UNSUPPORTED, "HV_UNSUPPORTED" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == status)
			return names[i].name;
	return NULL;
}

const char *hvd_hint_status_why(int32_t status)
{
	switch (status) {
	case HV_DENIED: return "permission denied";
	case HV_UNSUPPORTED: return "not supported by this hvd";
	case HV_NO_RESOURCES: return "hvd is out of memory or over a quota";
	case HV_BUSY: return "busy";
	case HV_BAD_ARGUMENT: return "bad argument";
	default: return "failed";
	}
}

const char *hvd_hint_status_fix(int32_t status, enum hvd_hint_who who)
{
	switch (status) {
	case HV_DENIED:
		/* hvctl's requests are the administrator's; a client's are a
		 * program's, whose rights come from rules and grants. */
		return who == HVD_HINT_HVCTL ?
			"run it as root or as a member of hvd's admin group; "
			"'hvctl policy explain --pid $$' shows your rights" :
			"hvd's policy gives this program no right to it; ask hvd's administrator "
			"for a rule or grant (docs/policy.md); 'hvctl policy explain --pid PID' "
			"shows what applies";
	case HV_UNSUPPORTED:
		return "this hvd does not implement it; upgrade hvd";
	case HV_NO_RESOURCES:
		return who == HVD_HINT_HVCTL ? "try again later" :
			"release what this process holds, try again later, or ask hvd's "
			"administrator to raise the limit ('hvctl policy explain --pid PID' "
			"shows the quota)";
	case HV_BUSY:
		return "try again later";
	default:
		return NULL;
	}
}

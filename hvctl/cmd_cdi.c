/*
 * hvctl cdi generate: a Container Device Interface spec (the JSON that
 * podman, containerd and CRI-O read from /etc/cdi) for the device
 * hvd.dev/vm=TENANT. The device is no device node: it is the tenant's
 * socket bind-mounted at hvd's default socket path, libhvclient's runtime
 * at the path it has on the host, and HVD_SOCKET naming the socket, which
 * is all a program linked against libhvclient needs to create VMs from
 * inside the container. No hvd needed.
 *
 * The kind is "hvd.dev/vm": CDI wants VENDOR/CLASS with a vendor shaped
 * like a domain, and the class says what a container holding the device
 * may do, namely create VMs, whatever tenant it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvd_protocol.h"
#include "out.h"
#include "subcommands.h"

/* Where `cmake --install` puts libhvclient, and the name its clients load
 * it by; both from CMake at configure time (hvctl/CMakeLists.txt). */
#ifndef HVCTL_LIBDIR
#error "HVCTL_LIBDIR must be defined by the build"
#endif
#ifndef HVCTL_CLIENT_SONAME
#error "HVCTL_CLIENT_SONAME must be defined by the build"
#endif

/* 0.5.0 is the newest version that Debian 12's CDI library (0.5.2, the one
 * its podman 4.3 is built with) accepts, and every later release accepts it
 * too. Env and mounts, all this spec uses, exist in every version. */
#define CDI_VERSION "0.5.0"
#define CDI_KIND "hvd.dev/vm"

static const char usage_cdi[] =
	"cdi generate --tenant NAME [--socket PATH] [--lib PATH] [--output FILE]";

/* True if `s` is well-formed UTF-8: JSON is UTF-8, and json-c copies
 * other bytes through, which would make a file no parser reads. */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned n;
		uint32_t cp;

		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			n = 1, cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2, cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 3, cp = *p & 0x07;
		} else {
			return false;
		}
		p++;
		for (unsigned i = 0; i < n; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and values past U+10FFFF
		 * are not UTF-8 either. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
	}
	return true;
}

/* A path the spec can carry: absolute (the runtime resolves a relative one
 * against nothing it documents) and UTF-8. `what` names it in messages. */
static bool path_ok(const char *what, const char *opt, const char *path)
{
	if (path[0] != '/') {
		hvctl_err("cdi generate", "%s '%s' is not an absolute path — give %s "
			  "/FULL/PATH (the container runtime does not resolve relative "
			  "ones)", what, path, opt);
		return false;
	}
	if (!utf8_valid(path)) {
		hvctl_err("cdi generate", "%s is not valid UTF-8 — a CDI spec is JSON and "
			  "cannot name it; use a path in UTF-8", what);
		return false;
	}
	return true;
}

/* CDI's rule for a device name (its ValidateDeviceName): letters and
 * digits at both ends, letters, digits and "_-.:" between. */
static bool cdi_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		bool inner = c == '_' || c == '-' || c == '.' || c == ':';

		if (!alnum && (i == 0 || i == len - 1 || !inner))
			return false;
	}
	return true;
}

/* The directory part of an absolute `path` ("/" for "/x"), malloc'd. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash == path ? 1 : (size_t)(slash - path);

	return strndup(path, len);
}

static json_object *mount_json(const char *host, const char *container, bool ro)
{
	json_object *m = json_object_new_object();
	json_object *opts = json_object_new_array();

	if (!m || !opts) {
		json_object_put(m);
		json_object_put(opts);
		return NULL;
	}
	hvctl_json_str(m, "hostPath", host);
	hvctl_json_str(m, "containerPath", container);
	/* Options as the runtimes' bind mounts take them (runc and crun read
	 * "bind" for a mount without a type). The socket must be writable to
	 * connect to; the library only read. */
	json_object_array_add(opts, json_object_new_string(ro ? "ro" : "rw"));
	json_object_array_add(opts, json_object_new_string("nosuid"));
	json_object_array_add(opts, json_object_new_string("nodev"));
	if (!ro)
		json_object_array_add(opts, json_object_new_string("noexec"));
	json_object_array_add(opts, json_object_new_string("bind"));
	json_object_object_add(m, "options", opts);
	return m;
}

/* The whole spec, or NULL when out of memory. `lib` is the library file
 * itself (links resolved), mounted under its own name and its SONAME in
 * `libdir`: a bind mount cannot make a symbolic link, and the loader asks
 * for the SONAME. */
static json_object *spec_json(const char *tenant, const char *socket, const char *lib,
			      const char *libdir)
{
	json_object *spec = json_object_new_object();
	json_object *devices = json_object_new_array();
	json_object *dev = json_object_new_object();
	json_object *edits = json_object_new_object();
	json_object *env = json_object_new_array();
	json_object *mounts = json_object_new_array();
	const char *libname = strrchr(lib, '/') + 1;
	char *env_sock = NULL, *c_lib = NULL, *c_soname = NULL;
	bool ok = spec && devices && dev && edits && env && mounts;

	if (asprintf(&env_sock, "HVD_SOCKET=%s", HVD_DEFAULT_SOCKET) < 0)
		env_sock = NULL;
	/* libdir "/" would give "//name": harmless, but say it once. */
	if (asprintf(&c_lib, "%s/%s", strcmp(libdir, "/") ? libdir : "", libname) < 0)
		c_lib = NULL;
	if (asprintf(&c_soname, "%s/%s", strcmp(libdir, "/") ? libdir : "",
		     HVCTL_CLIENT_SONAME) < 0)
		c_soname = NULL;
	ok = ok && env_sock && c_lib && c_soname;
	if (ok) {
		json_object_array_add(env, json_object_new_string(env_sock));
		json_object_array_add(mounts, mount_json(socket, HVD_DEFAULT_SOCKET, false));
		json_object_array_add(mounts, mount_json(lib, c_lib, true));
		if (strcmp(libname, HVCTL_CLIENT_SONAME) != 0)
			json_object_array_add(mounts, mount_json(lib, c_soname, true));
		for (size_t i = 0; i < json_object_array_length(mounts); i++)
			ok = ok && json_object_array_get_idx(mounts, i);
	}
	free(env_sock);
	free(c_lib);
	free(c_soname);
	if (!ok) {
		json_object_put(spec);
		json_object_put(devices);
		json_object_put(dev);
		json_object_put(edits);
		json_object_put(env);
		json_object_put(mounts);
		return NULL;
	}
	json_object_object_add(edits, "env", env);
	json_object_object_add(edits, "mounts", mounts);
	hvctl_json_str(dev, "name", tenant);
	json_object_object_add(dev, "containerEdits", edits);
	json_object_array_add(devices, dev);
	hvctl_json_str(spec, "cdiVersion", CDI_VERSION);
	hvctl_json_str(spec, "kind", CDI_KIND);
	json_object_object_add(spec, "devices", devices);
	return spec;
}

/* Write `text` to `path` so that a reader (the runtimes watch /etc/cdi)
 * sees the old file or the new one, never half of one: a temporary file
 * beside it, synced, then renamed over it. Its name does not end in .json,
 * so a runtime scanning the directory meanwhile skips it. Mode 0644: the
 * runtimes read it as whoever runs the container. */
static int write_atomic(const char *path, const char *text)
{
	size_t len = strlen(text);
	char *tmp = NULL, *dir = NULL;
	const char *p = text;
	int fd = -1, dfd, err;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		hvctl_err("cdi generate", "out of memory");
		return HVCTL_EXIT_FAILED;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = errno;
		hvctl_err("cdi generate", "cannot create a file beside %s: %s — check the "
			  "directory exists and is writable", path, strerror(err));
		free(tmp);
		return HVCTL_EXIT_FAILED;
	}
	if (fchmod(fd, 0644) < 0)
		goto err_write;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err_write;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto err_write;
	if (close(fd) < 0) {
		fd = -1;
		goto err_write;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto err_write;
	/* The rename is durable once the directory is synced; a failure here
	 * leaves the file in place, so it is not worth an error. */
	dir = strchr(path, '/') ? dir_of(path) : strdup(".");
	if (dir && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
	free(tmp);
	return HVCTL_EXIT_OK;

err_write:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	hvctl_err("cdi generate", "writing %s: %s — check free space and permissions",
		  path, strerror(err));
	free(tmp);
	return HVCTL_EXIT_FAILED;
}

static int cdi_generate(int argc, char *argv[], struct hvctl *ctx)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 's' },
		{ "lib", required_argument, NULL, 'l' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tenant = NULL, *lib = HVCTL_LIBDIR "/" HVCTL_CLIENT_SONAME;
	const char *output = NULL, *socket;
	char real[PATH_MAX];
	char *libdir = NULL;
	json_object *spec;
	struct stat st;
	int c, r, err;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tenant = optarg;
			break;
		case 's':
			ctx->socket = optarg;
			break;
		case 'l':
			lib = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			printf("Usage: hvctl %s\n", usage_cdi);
			return HVCTL_EXIT_OK;
		case ':':
			return hvctl_usage("cdi generate", "%s needs an argument", argv[optind - 1]);
		default:
			return hvctl_usage("cdi generate", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return hvctl_usage("cdi generate", "unexpected argument '%s'", argv[optind]);
	if (!tenant)
		return hvctl_usage("cdi generate", "which tenant? Give --tenant NAME (the "
				   "device becomes " CDI_KIND "=NAME)");
	if (!cdi_name_ok(tenant))
		return hvctl_usage("cdi generate", "'%s' cannot be a CDI device name — use "
				   "letters, digits and _-.: with a letter or digit at each end",
				   tenant);
	/* The same socket every hvctl command would use: the tenant's once
	 * tenants have sockets of their own. */
	socket = ctx->socket ? ctx->socket : getenv("HVD_SOCKET");
	if (!socket || !*socket)
		socket = HVD_DEFAULT_SOCKET;
	if (!path_ok("the socket", "--socket", socket) || !path_ok("the library", "--lib", lib))
		return HVCTL_EXIT_USAGE;

	/* The library must exist now: a spec naming a missing file fails only
	 * when a container starts, far from here. Its directory is where the
	 * container sees it, as on the host, since that is on the loader's
	 * path wherever the host's own programs find it. */
	if (!realpath(lib, real) || stat(real, &st) < 0) {
		err = errno;
		hvctl_err("cdi generate", "%s: %s — install libhvclient, or give --lib PATH "
			  "(its file or its %s link)", lib, strerror(err), HVCTL_CLIENT_SONAME);
		return HVCTL_EXIT_FAILED;
	}
	if (!S_ISREG(st.st_mode)) {
		hvctl_err("cdi generate", "%s is not a file — give --lib the library file or "
			  "its %s link", lib, HVCTL_CLIENT_SONAME);
		return HVCTL_EXIT_FAILED;
	}
	if (!utf8_valid(real)) {
		hvctl_err("cdi generate", "the library's real path is not valid UTF-8 — a "
			  "CDI spec is JSON and cannot name it");
		return HVCTL_EXIT_FAILED;
	}
	libdir = dir_of(lib);
	spec = libdir ? spec_json(tenant, socket, real, libdir) : NULL;
	free(libdir);
	if (!spec) {
		hvctl_err("cdi generate", "out of memory");
		return HVCTL_EXIT_FAILED;
	}
	if (!output)
		return hvctl_json_print(spec);

	const char *text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_SPACED |
							    JSON_C_TO_STRING_NOSLASHESCAPE);
	char *line = NULL;
	if (!text || asprintf(&line, "%s\n", text) < 0) {
		json_object_put(spec);
		hvctl_err("cdi generate", "out of memory");
		return HVCTL_EXIT_FAILED;
	}
	json_object_put(spec);
	r = write_atomic(output, line);
	free(line);
	return r;
}

int hvctl_cmd_cdi(int argc, char *argv[], struct hvctl *ctx)
{
	if (argc < 2)
		return hvctl_usage("cdi", "what? e.g. 'hvctl %s'", usage_cdi);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		printf("Usage: hvctl %s\n", usage_cdi);
		return HVCTL_EXIT_OK;
	}
	if (strcmp(argv[1], "generate") != 0)
		return hvctl_usage("cdi", "unknown subcommand '%s' (there is 'generate')",
				   argv[1]);
	/* generate parses its own words, starting afresh as main() did. */
	optind = 0;
	return cdi_generate(argc - 1, argv + 1, ctx);
}

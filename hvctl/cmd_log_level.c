/*
 * hvctl log-level [LEVEL]: hvd's log level (error, warn, info, debug), at
 * run time; without LEVEL only shown. Administrators only: debug logs
 * every request of every client.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ipc.h"
#include "out.h"

int hvctl_cmd_log_level(int argc, char *argv[], struct hvctl *ctx)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminLogLevel op = HVDP__ADMIN_LOG_LEVEL__INIT;
	Hvdp__Response *resp;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, NULL, argv[0])) >= 0)
		return r;
	if (optind + 1 < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc) {
		/* Checked here too, so that a typo is a usage error. */
		bool known = false;
		for (unsigned i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
			known |= strcmp(argv[optind], levels[i]) == 0;
		if (!known)
			return hvctl_usage(argv[0], "'%s' is not a level: error, warn, info or debug",
					   argv[optind]);
		op.level = argv[optind];
	}
	req.op_case = HVDP__REQUEST__OP_ADMIN_LOG_LEVEL;
	req.admin_log_level = &op;
	if ((r = hvctl_admin(ctx, argv[0], &req, NULL, &resp)) != HVCTL_EXIT_OK)
		return r;
	if (!resp->log_level) {
		hvdp__response__free_unpacked(resp, NULL);
		hvctl_err(argv[0], "hvd's reply has no log level (an hvd older than this hvctl?)");
		return HVCTL_EXIT_FAILED;
	}
	printf("%s\n", resp->log_level->level);
	hvdp__response__free_unpacked(resp, NULL);
	return HVCTL_EXIT_OK;
}

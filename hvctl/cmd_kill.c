/*
 * hvctl kill VM: hvd closes the owning client's session and destroys its
 * VM, after telling the owner why (docs/protocol.md, "hvd's last word");
 * the owner's next call fails. Administrators may kill any VM, others
 * only their own tenant's.
 */
#include <getopt.h>
#include <inttypes.h>

#include "ipc.h"
#include "out.h"

int hvctl_cmd_kill(int argc, char *argv[], struct hvctl *ctx)
{
	Hvdp__Request req = HVDP__REQUEST__INIT;
	Hvdp__AdminKillVm op = HVDP__ADMIN_KILL_VM__INIT;
	Hvdp__Response *resp;
	int r;

	if ((r = hvctl_opts(argc, argv, ctx, NULL, argv[0])) >= 0)
		return r;
	if (optind >= argc)
		return hvctl_usage(argv[0], "which VM? Give its id from 'hvctl list'");
	if (optind + 1 < argc)
		return hvctl_usage(argv[0], "unexpected argument '%s'", argv[optind + 1]);
	if (!hvctl_parse_u64(argv[optind], UINT64_MAX, &op.vm))
		return hvctl_usage(argv[0], "'%s' is not a VM id (a number from 'hvctl list')",
				   argv[optind]);
	req.op_case = HVDP__REQUEST__OP_ADMIN_KILL_VM;
	req.admin_kill_vm = &op;
	if ((r = hvctl_admin(ctx, argv[0], &req, "'hvctl list' shows the VMs you can kill",
			     &resp)) != HVCTL_EXIT_OK)
		return r;
	printf("killed VM %" PRIu64 "\n", op.vm);
	hvdp__response__free_unpacked(resp, NULL);
	return HVCTL_EXIT_OK;
}

/*
 * arm64: Apple's GIC calls (hv_gic_*), answered on the loop thread. None
 * of them waits for a guest: KVM's GIC attribute calls fail with EBUSY
 * while a vCPU runs (HV_BUSY, as in-process), an SPI or an MSI is an
 * ioctl on the VM, and the backend names a vCPU by the MPIDR it keeps
 * (backend/hvb64_priv.h), never by asking the vCPU. A per-vCPU call holds
 * the vCPU's lock, so its thread cannot destroy the backend vCPU meanwhile.
 *
 * The client checked its arguments; hvd checks them again where a wrong
 * one could reach beyond the client's own VM: the vCPU must be the
 * session's, the GIC space known, and a state blob comes in a memfd that
 * can neither shrink nor be anything but memory, at most
 * HVD_MAX_GIC_STATE bytes, copied once before the backend looks at it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvd.h"
#include "hvd_gic.h"
#include "hvd_session.h"

/* The arm64 calls of the backend, or NULL on x86 (then every GIC call is
 * HV_UNSUPPORTED). */
static const struct hvb_arch_arm64 *arm64(const struct hvd_session *s)
{
	return s->d->be->arm64;
}

int hvd_gic_create(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	const Hvdp__GicCreate *c = req->gic_create;
	(void)fd;
	if (!arm64(s)) {
		resp->status = HV_UNSUPPORTED;
		return -1;
	}
	struct hvb_a64_gic_config cfg = {
		.dist_base = c->dist_base, .redist_base = c->redist_base, .msi_base = c->msi_base,
		.msi_intid_base = c->msi_intid_base, .msi_count = c->msi_count,
	};
	resp->status = hvd_status_from_errno(arm64(s)->gic_create(s->vm, &cfg));
	return -1;
}

int hvd_gic_spi(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)fd;
	resp->status = !arm64(s) ? HV_UNSUPPORTED :
		hvd_status_from_errno(arm64(s)->gic_set_spi(s->vm, req->gic_spi->intid,
							    req->gic_spi->level));
	return -1;
}

int hvd_gic_msi(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)fd;
	resp->status = !arm64(s) ? HV_UNSUPPORTED :
		hvd_status_from_errno(arm64(s)->gic_send_msi(s->vm, req->gic_msi->addr,
							     req->gic_msi->intid));
	return -1;
}

/* Space 0: the vCPU's redistributor base. */
#define GIC_SPACE_REDIST_BASE 0u

int hvd_gic_reg(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	const Hvdp__GicReg *g = req->gic_reg;
	(void)fd;
	if (!arm64(s)) {
		resp->status = HV_UNSUPPORTED;
		return -1;
	}
	bool per_vcpu = g->space != HVB_GIC_DIST && g->space != HVB_GIC_MSI;
	if (g->space > HVB_GIC_MSI) {
		resp->status = HV_BAD_ARGUMENT;
		return -1;
	}
	uint64_t value = g->value;
	int r;
	if (!per_vcpu) {
		r = arm64(s)->gic_reg(s->vm, NULL, (enum hvb_a64_gic_space)g->space, g->reg, g->write,
				      &value);
	} else {
		struct hvd_vcpu *v = hvd_session_vcpu(s, g->vcpu);
		if (!v) {
			resp->status = HV_BAD_ARGUMENT;
			return -1;
		}
		pthread_mutex_lock(&v->lock);
		if (!v->vcpu)
			r = -EINVAL; /* being destroyed */
		else if (g->space == GIC_SPACE_REDIST_BASE)
			r = g->write ? -EINVAL : arm64(s)->gic_redist_base(s->vm, v->vcpu, &value);
		else
			r = arm64(s)->gic_reg(s->vm, v->vcpu, (enum hvb_a64_gic_space)g->space, g->reg,
					      g->write, &value);
		pthread_mutex_unlock(&v->lock);
	}
	resp->status = hvd_status_from_errno(r);
	if (r == 0 && !g->write)
		resp->value = value;
	return -1;
}

/* The blob in a memfd of its own, sealed: the client's copy. */
static int blob_memfd(const void *blob, size_t size)
{
	int fd = memfd_create("hvd-gic-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < size;) {
		ssize_t n = write(fd, (const char *)blob + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? -errno : -EIO;
			close(fd);
			return e;
		}
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* The client's blob, copied once: -EINVAL for anything but a memfd that
 * cannot shrink and holds `size` bytes (a file on a slow file system, a
 * pipe or a socket could stall the loop; a shrinking one fault it). */
static int blob_take(int fd, uint64_t size, void **out)
{
	struct stat st;
	int seals;
	if (fd < 0 || size == 0 || size > HVD_MAX_GIC_STATE || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || (uint64_t)st.st_size < size ||
	    (seals = fcntl(fd, F_GET_SEALS)) < 0 || !(seals & F_SEAL_SHRINK))
		return -EINVAL;
	void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -EINVAL;
	void *copy = malloc((size_t)size);
	if (copy)
		memcpy(copy, map, (size_t)size);
	munmap(map, (size_t)size);
	if (!copy)
		return -ENOMEM;
	*out = copy;
	return 0;
}

int hvd_gic_state(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	const Hvdp__GicState *g = req->gic_state;
	void *blob = NULL;
	size_t size = 0;
	int r;

	if (!arm64(s)) {
		if (fd >= 0)
			close(fd);
		resp->status = HV_UNSUPPORTED;
		return -1;
	}
	if (g->write) {
		r = blob_take(fd, g->size, &blob);
		if (fd >= 0)
			close(fd);
		if (r == 0)
			r = arm64(s)->gic_state_set(s->vm, blob, (size_t)g->size);
		free(blob);
		resp->status = hvd_status_from_errno(r);
		return -1;
	}
	if (fd >= 0)
		close(fd); /* a read takes none */
	r = arm64(s)->gic_state_get(s->vm, &blob, &size);
	int out = -1;
	if (r == 0 && size > HVD_MAX_GIC_STATE)
		r = -ENOSPC; /* cannot be: HVD_MAX_GIC_STATE is far above the largest */
	if (r == 0 && (out = blob_memfd(blob, size)) < 0)
		r = out;
	free(blob);
	resp->status = hvd_status_from_errno(r);
	if (r < 0)
		return -1;
	resp->value = size;
	return out;
}

int hvd_gic_reset(struct hvd_session *s, Hvdp__Request *req, Hvdp__Response *resp, int fd)
{
	(void)req, (void)fd;
	resp->status = !arm64(s) ? HV_UNSUPPORTED : hvd_status_from_errno(arm64(s)->gic_reset(s->vm));
	return -1;
}

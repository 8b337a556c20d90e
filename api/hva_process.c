/*
 * Apple's process model, once for every transport: the process's one VM,
 * the vCPU-to-thread table (a vCPU belongs to the thread that created it,
 * and only that thread may use it, hv_vcpu_interrupt excepted), and a
 * forked child that starts without a VM.
 */
#include <pthread.h>
#include <string.h>

#include "hva_priv.h"

struct slot {
	struct hva_vcpu *vcpu;
	pthread_t owner;
};

static struct {
	pthread_mutex_t lock;
	struct hva_vm *vm;
	struct slot vcpus[HVA_MAX_VCPUS];
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

__thread struct hva__self hva__self;

void hva__lock(void)
{
	pthread_mutex_lock(&g.lock);
}

void hva__unlock(void)
{
	pthread_mutex_unlock(&g.lock);
}

struct hva_vm *hva__vm_locked(void)
{
	return g.vm;
}

void hva__vm_set(struct hva_vm *vm)
{
	g.vm = vm;
}

struct hva_vm *hva__vm(void)
{
	pthread_mutex_lock(&g.lock);
	struct hva_vm *vm = g.vm;
	pthread_mutex_unlock(&g.lock);
	return vm;
}

/* Ownership is by pthread_t, as in the table: a thread that ended
 * without destroying its vCPU leaves it to the next thread given the same
 * pthread_t (glibc reuses them), which finds it here. */
hv_return_t hva__own_slow(hv_vcpuid_t id, struct hva_vcpu **out)
{
	hv_return_t ret = HV_SUCCESS;
	pthread_mutex_lock(&g.lock);
	if (!g.vm) {
		ret = HV_NO_DEVICE;
	} else if (id >= HVA_MAX_VCPUS || !g.vcpus[id].vcpu ||
		   !pthread_equal(g.vcpus[id].owner, pthread_self())) {
		ret = HV_BAD_ARGUMENT;
	} else {
		*out = g.vcpus[id].vcpu;
		hva__self.vcpu = *out;
		hva__self.id = id;
	}
	pthread_mutex_unlock(&g.lock);
	return ret;
}

bool hva__thread_has_vcpu(void)
{
	for (unsigned i = 0; i < HVA_MAX_VCPUS; i++)
		if (g.vcpus[i].vcpu && pthread_equal(g.vcpus[i].owner, pthread_self()))
			return true;
	return false;
}

void hva__vcpu_add(hv_vcpuid_t id, struct hva_vcpu *vcpu)
{
	g.vcpus[id].vcpu = vcpu;
	g.vcpus[id].owner = pthread_self();
	hva__self.vcpu = vcpu;
	hva__self.id = id;
}

/* On the owner (hv_vcpu_destroy), so its hva__self is the only copy. */
void hva__vcpu_remove(hv_vcpuid_t id)
{
	memset(&g.vcpus[id], 0, sizeof(g.vcpus[id]));
	if (hva__self.id == id)
		memset(&hva__self, 0, sizeof(hva__self));
}

struct hva_vcpu *hva_vcpu_lookup(hv_vcpuid_t id)
{
	return id < HVA_MAX_VCPUS ? g.vcpus[id].vcpu : NULL;
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&g.lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&g.lock);
}

/* A forked child has no VM (Apple models a VM as its process): the
 * transport drops its copies of the parent's objects, and the table
 * forgets them. */
static void fork_child(void)
{
	hva_transport.fork_child(g.vm);
	memset(g.vcpus, 0, sizeof(g.vcpus));
	memset(&hva__self, 0, sizeof(hva__self)); /* the only thread left */
	g.vm = NULL;
	pthread_mutex_init(&g.lock, NULL);
}

static void fork_register_once(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void hva__fork_register(void)
{
	pthread_once(&fork_once, fork_register_once);
}

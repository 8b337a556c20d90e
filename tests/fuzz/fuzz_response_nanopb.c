/*
 * libhvclient's decoder: every reply from hvd is one Response decoded with
 * nanopb into a fixed-size struct (client/hvc_conn.c: exchange()), whose
 * bounds come from proto/hvd.options. A hostile daemon is unlikely (the
 * client chose to connect to it), but the decoder must stay inside the
 * struct whatever arrives. The harness decodes as libhvclient does, checks
 * the bounds nanopb promises, reads what the library reads, and checks
 * that a decoded reply encodes and decodes to the same values.
 */
#include "fuzz_common.h"

#include <pb_decode.h>
#include <pb_encode.h>

#include "hvd.pb.h"
#include "hvd_protocol.h"

static void walk(const hvdp_Response *r)
{
	fuzz_use(r->id + (uint64_t)(int64_t)r->status + r->value + r->vcpu);
	/* hv_vcpu_read_fpstate: memcpy(buffer, data.bytes, min(data.size, size)) */
	FUZZ_CHECK(r->data.size <= sizeof(r->data.bytes));
	fuzz_use_bytes(r->data.bytes, r->data.size);
	if (r->has_hello) {
		const hvdp_HelloReply *h = &r->hello;
		FUZZ_CHECK(h->vmx_caps_count <= sizeof(h->vmx_caps) / sizeof(h->vmx_caps[0]));
		FUZZ_CHECK(h->vmx_caps_status_count <=
			   sizeof(h->vmx_caps_status) / sizeof(h->vmx_caps_status[0]));
		fuzz_use(h->version + h->run_page_size + h->run_page_version + h->max_vcpus);
		for (pb_size_t i = 0; i < h->vmx_caps_count; i++)
			fuzz_use(h->vmx_caps[i]);
		for (pb_size_t i = 0; i < h->vmx_caps_status_count; i++)
			fuzz_use(h->vmx_caps_status[i]);
		/* hvc_connect accepts exactly this, then copies the arrays whole. */
		if (h->version == HVD_PROTOCOL_VERSION &&
		    h->run_page_version == HVD_RUN_PAGE_VERSION &&
		    h->run_page_size == sizeof(struct hvd_run_page) &&
		    h->vmx_caps_count == 33 && h->vmx_caps_status_count == 33) {
			uint64_t caps[33];
			uint32_t status[33];
			memcpy(caps, h->vmx_caps, sizeof(caps));
			memcpy(status, h->vmx_caps_status, sizeof(status));
			fuzz_use_bytes(caps, sizeof(caps));
			fuzz_use_bytes(status, sizeof(status));
		}
	}
}

static void same(const hvdp_Response *a, const hvdp_Response *b)
{
	FUZZ_CHECK(a->id == b->id && a->status == b->status && a->value == b->value &&
		   a->vcpu == b->vcpu && a->data.size == b->data.size &&
		   memcmp(a->data.bytes, b->data.bytes, a->data.size) == 0);
	/* proto3: an empty HelloReply encodes as present, so has_hello
	 * survives; its contents must too. */
	FUZZ_CHECK(a->has_hello == b->has_hello);
	if (!a->has_hello)
		return;
	const hvdp_HelloReply *x = &a->hello, *y = &b->hello;
	FUZZ_CHECK(x->version == y->version && x->run_page_size == y->run_page_size &&
		   x->run_page_version == y->run_page_version && x->max_vcpus == y->max_vcpus &&
		   x->vmx_caps_count == y->vmx_caps_count &&
		   x->vmx_caps_status_count == y->vmx_caps_status_count &&
		   memcmp(x->vmx_caps, y->vmx_caps, x->vmx_caps_count * sizeof(x->vmx_caps[0])) == 0 &&
		   memcmp(x->vmx_caps_status, y->vmx_caps_status,
			  x->vmx_caps_status_count * sizeof(x->vmx_caps_status[0])) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libhvclient's receive buffer. */
	if (size > HVD_MAX_MESSAGE)
		return -1;
	/* Heap copies of exactly the right size, so that a read or write
	 * past either is an ASan report rather than a quiet stack overrun. */
	uint8_t *msg = malloc(size ? size : 1);
	hvdp_Response *resp = malloc(sizeof(*resp));
	FUZZ_CHECK(msg && resp);
	memcpy(msg, data, size);
	memset(resp, 0, sizeof(*resp));

	pb_istream_t in = pb_istream_from_buffer(msg, size);
	if (pb_decode(&in, hvdp_Response_fields, resp)) {
		walk(resp);

		uint8_t out[HVD_MAX_MESSAGE];
		pb_ostream_t os = pb_ostream_from_buffer(out, sizeof(out));
		FUZZ_CHECK(pb_encode(&os, hvdp_Response_fields, resp));
		/* Response has no nanopb maximum since `error` is a callback
		 * (r15-client-errors): the bound is the client's buffer. */
		FUZZ_CHECK(os.bytes_written <= HVD_MAX_MESSAGE);
		hvdp_Response *again = malloc(sizeof(*again));
		FUZZ_CHECK(again != NULL);
		memset(again, 0, sizeof(*again));
		pb_istream_t in2 = pb_istream_from_buffer(out, os.bytes_written);
		FUZZ_CHECK(pb_decode(&in2, hvdp_Response_fields, again));
		same(resp, again);
		free(again);
	}
	free(resp);
	free(msg);
	return 0;
}

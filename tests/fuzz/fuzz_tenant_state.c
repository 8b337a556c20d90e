/*
 * hvd's tenant state file (daemon/hvd_tspec.c): STATE_DIR/tenants.json,
 * which hvd writes itself but reads back at start like outside input. The
 * input is the file's text: parsed as hvd parses it, every tenant in it
 * checked as hvd checks it; a tenant that passes must come back the same
 * through the form hvd writes (hvd_tspec_to_json), and pass again.
 */
#include "fuzz_common.h"

#include "hvd_tspec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *list;
	json_object *top = hvd_tspec_parse_state((const char *)data, size, &list);
	char why[512];

	if (!top)
		return 0;
	for (size_t i = 0; i < json_object_array_length(list) && i < 512; i++) {
		struct hvd_tspec t, back;
		why[0] = '\0';
		if (!hvd_tspec_from_json(json_object_array_get_idx(list, i), &t, why, sizeof(why))) {
			FUZZ_CHECK(why[0] != '\0');
			continue;
		}
		FUZZ_CHECK(hvd_tspec_ok(&t, why, sizeof(why)));
		FUZZ_CHECK(t.nuids <= HVD_TSPEC_MAX_IDS && t.ngids <= HVD_TSPEC_MAX_IDS);
		FUZZ_CHECK(strlen(t.name) > 0 && strlen(t.name) < sizeof(t.name));
		FUZZ_CHECK(t.socket[0] == '\0' || t.socket[0] == '/');
		json_object *o = hvd_tspec_to_json(&t);
		const char *text = json_object_to_json_string(o);
		json_object *again = json_tokener_parse(text);
		FUZZ_CHECK(again != NULL);
		FUZZ_CHECK(hvd_tspec_from_json(again, &back, why, sizeof(why)));
		FUZZ_CHECK(memcmp(&t, &back, sizeof(t)) == 0);
		fuzz_use_str(text);
		json_object_put(again);
		json_object_put(o);
	}
	json_object_put(top);
	return 0;
}

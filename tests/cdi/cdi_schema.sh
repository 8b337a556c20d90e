#!/usr/bin/env bash
# cdi_schema.sh HVCTL LIB: `hvctl cdi generate` writes a spec that Debian's
# CDI schema (scripts/deps.sh unpacks it) accepts, with the paths escaped,
# the file 0644; and the validator refuses a broken spec, so that the check
# can fail at all.
set -euo pipefail
hvctl=$1 lib=$2
schema=${HVD_CDI_SCHEMA_DIR:-/var/cache/hvd-cdi-schema}
[ -f "$schema/schema.json" ] || { echo "no CDI schema in $schema: run scripts/deps.sh" >&2; exit 1; }
dir=$(mktemp -d /tmp/hvd-cdi.XXXXXX)
trap 'rm -rf "$dir"' EXIT

sock=$'/tmp/odd "dir"\\\n\t/é.sock'
"$hvctl" cdi generate --tenant ci-1 --socket "$sock" --lib "$lib" --output "$dir/hvd.json"
[ "$(stat -c %a "$dir/hvd.json")" = 644 ]
[ -z "$(find "$dir" -name 'hvd.json.*')" ]
# Relative paths and bad device names are refused, and nothing is written.
! "$hvctl" cdi generate --tenant ci --socket rel.sock --lib "$lib" --output "$dir/bad.json" 2>/dev/null
! "$hvctl" cdi generate --tenant 'a/b' --lib "$lib" --output "$dir/bad.json" 2>/dev/null
! "$hvctl" cdi generate --tenant ci --lib "$dir/none.so.0" --output "$dir/bad.json" 2>/dev/null
[ ! -e "$dir/bad.json" ]

SOCK=$sock python3 - "$schema" "$dir/hvd.json" "$lib" <<'PY'
import copy, json, os, sys
import jsonschema

schema_dir, path, lib = sys.argv[1:4]
with open(os.path.join(schema_dir, "schema.json")) as f:
    schema = json.load(f)
resolver = jsonschema.RefResolver("file://" + schema_dir + "/", schema)
validator = jsonschema.Draft7Validator(schema, resolver=resolver)
with open(path, encoding="utf-8") as f:
    spec = json.load(f)
validator.validate(spec)

# What the schema leaves loose but the runtimes check (Debian 12's CDI
# library, pkg/cdi/spec.go): a version it knows, VENDOR/CLASS, the device.
assert spec["cdiVersion"] in ("0.3.0", "0.4.0", "0.5.0"), spec["cdiVersion"]
assert spec["kind"] == "hvd.dev/vm", spec["kind"]
dev, = spec["devices"]
assert dev["name"] == "ci-1"
edits = dev["containerEdits"]
assert edits["env"] == ["HVD_SOCKET=/run/hvd/hvd.sock"], edits["env"]
mounts = {m["containerPath"]: m for m in edits["mounts"]}
assert mounts["/run/hvd/hvd.sock"]["hostPath"] == os.environ["SOCK"]
real = os.path.realpath(lib)
libdir = os.path.dirname(lib)
assert mounts[os.path.join(libdir, os.path.basename(real))]["hostPath"] == real
assert mounts[os.path.join(libdir, "libhvclient.so.0")]["hostPath"] == real
for m in edits["mounts"]:
    assert "bind" in m["options"] and os.path.isabs(m["containerPath"])

# Broken specs must fail, or the check above proves nothing.
def broken(mutate):
    s = copy.deepcopy(spec)
    mutate(s)
    try:
        validator.validate(s)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted a broken spec")
broken(lambda s: s.pop("kind"))
broken(lambda s: s["devices"][0].pop("containerEdits"))
broken(lambda s: s["devices"][0]["containerEdits"]["mounts"][0].pop("hostPath"))
broken(lambda s: s["devices"][0]["containerEdits"]["mounts"][0].update(containerPath=7))
print("cdi schema: ok")
PY

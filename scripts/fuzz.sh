#!/usr/bin/env bash
# Build the libFuzzer harnesses (tests/fuzz/) with clang, ASan and UBSan in
# a separate build directory, then run each over its corpus for a while.
# Exits 1 if any harness crashed (the reproducer is under
# <build-dir>/fuzz-artifacts/<harness>/), 0 otherwise.
#
#   scripts/fuzz.sh                      10 s per harness (CI)
#   scripts/fuzz.sh --seconds 600        a long run
#   scripts/fuzz.sh --replay             only replay the committed corpora
#   scripts/fuzz.sh --only grant -- -jobs=2 -workers=2   one harness, extra
#                                        libFuzzer flags after --
#
# Options:
#   --seconds N     fuzzing time per harness (default 10)
#   --build-dir D   build directory (default build-fuzz)
#   --only NAME     run only fuzz_NAME (repeatable)
#   --replay        run each harness over its committed corpus once, no fuzzing
#                   listed in tests/fuzz/README.md
#   --no-deps-src   do not fetch the sources of protobuf-c and nanopb (the
#                   decoders' runtimes then stay uninstrumented)
#
# New inputs found go to <build-dir>/fuzz-corpus/<harness>/, never into the
# committed tests/fuzz/corpus/ (merge good ones by hand, see the README).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

seconds=10
build="build-fuzz"
only=()
replay=0
deps_src=1
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--build-dir) build=$2; shift 2 ;;
	--only) only+=("$2"); shift 2 ;;
	--replay) replay=1; shift ;;
	--no-deps-src) deps_src=0; shift ;;
	--) shift; extra=("$@"); break ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
case $seconds in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a number" >&2; exit 2 ;; esac

if ! command -v clang >/dev/null; then
	echo "fuzz.sh: clang not found (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi

# The decoders' runtimes are system libraries; their sources, at the
# installed versions, let the harnesses instrument them (coverage, ASan on
# their stores). Fetched once with apt-get source into the build directory;
# without them the harnesses still work, with less insight.
deps_args=()
fetch_src() { # package-of-the-headers source-package dir-name
	local ver
	ver=$(dpkg-query -W -f='${source:Version}' "$1" 2>/dev/null) || return 1
	[ -n "$ver" ] || return 1
	local dir=$build/deps-src/$3-$ver
	if [ ! -d "$dir" ]; then
		local tmp=$build/deps-src/tmp
		rm -rf "$tmp"
		mkdir -p "$tmp/lists/partial"
		echo "deb-src http://deb.debian.org/debian $(. /etc/os-release && echo "$VERSION_CODENAME") main" \
			>"$tmp/sources.list"
		local apt=(-o Dir::Etc::SourceList="$PWD/$tmp/sources.list"
			   -o Dir::Etc::SourceParts=/nonexistent
			   -o Dir::State::Lists="$PWD/$tmp/lists"
			   -qq)
		# As root, apt would hand the download to _apt, who cannot
		# write here.
		[ "$(id -u)" != 0 ] || apt+=(-o APT::Sandbox::User=root)
		( cd "$tmp" &&
		  apt-get "${apt[@]}" update >/dev/null &&
		  apt-get "${apt[@]}" source --download-only "$2=$ver" >/dev/null &&
		  dpkg-source -x ./*.dsc src >/dev/null 2>&1 ) || { rm -rf "$tmp"; return 1; }
		mv "$tmp/src" "$dir"
		rm -rf "$tmp"
	fi
	echo "$dir"
}
if [ $deps_src = 1 ] && command -v apt-get >/dev/null && command -v dpkg-source >/dev/null; then
	mkdir -p "$build/deps-src"
	if d=$(fetch_src libprotobuf-c-dev protobuf-c protobuf-c); then
		deps_args+=(-DHVD_FUZZ_PROTOBUF_C_SRC="$src/$d")
	else
		echo "fuzz.sh: no protobuf-c source: libprotobuf-c stays uninstrumented" >&2
	fi
	if d=$(fetch_src libnanopb-dev nanopb nanopb); then
		deps_args+=(-DHVD_FUZZ_NANOPB_SRC="$src/$d")
	else
		echo "fuzz.sh: no nanopb source: pb_decode stays uninstrumented" >&2
	fi
fi

CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DHVD_FUZZ=ON -DHVD_SANITIZE=ON "${deps_args[@]}" >/dev/null
cmake --build "$build" --target fuzz -j"$(scripts/jobs.sh)" >/dev/null

harnesses=(request response_nanopb policy_config grant run_page decode)
if [ ${#only[@]} -gt 0 ]; then
	harnesses=("${only[@]}")
fi

# Crash on UB, report leaks; the corpus limits match the decoders' own.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
declare -A max_len=([request]=8192 [response_nanopb]=8192 [policy_config]=16384
		    [grant]=16384 [run_page]=4096 [decode]=512)

failed=()
for h in "${harnesses[@]}"; do
	bin=$build/tests/fuzz/fuzz_$h
	corpus=tests/fuzz/corpus/$h
	if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
		echo "fuzz.sh: no harness $h" >&2
		exit 2
	fi
	work=$build/fuzz-corpus/$h
	art=$build/fuzz-artifacts/$h
	log=$build/fuzz-logs/$h.log
	mkdir -p "$work" "$art" "$(dirname "$log")"
	if [ $replay = 1 ]; then
		args=(-runs=0 "$corpus")
		echo "== $h: replaying $corpus"
	else
		args=(-max_total_time="$seconds" -max_len="${max_len[$h]:-8192}"
		      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		      "$work" "$corpus")
		echo "== $h: fuzzing for ${seconds}s"
	fi
	if "$bin" -artifact_prefix="$art/" "${args[@]}" "${extra[@]}" >"$log" 2>&1; then
		grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" | tr '\n' ' ' || true
		echo
	else
		failed+=("$h")
		echo "!! $h FAILED: log $log, reproducer in $art/" >&2
		grep -E 'ERROR|runtime error|Assertion|invariant failed|SUMMARY|Test unit written' "$log" \
			| head -8 >&2 || true
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz.sh: crashes in: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: no crashes"

#!/bin/bash
# A short libFuzzer run of the control socket's request parser
# (tests/fuzz/control_fuzz.c, built by the sanitizer build of `make test`
# when clang is there): the seeds, then mutations for a bounded time,
# find no crash, leak, sanitizer report or broken reply. `make fuzz`
# runs it for longer.
. "$(dirname "$0")/lib-tendd.sh"

FUZZ=$B/tests/fuzz/control_fuzz
SEEDS=$TOP/tests/fuzz/corpus
if [ ! -x "$FUZZ" ]; then
	echo "1..0 # SKIP $FUZZ missing (no clang?)"
	exit 0
fi

# fuzz LOG ARGS...: run it; new inputs go to $T/corpus, never to the seeds
fuzz() {
	local log=$1
	shift
	mkdir -p "$T/corpus"
	"$FUZZ" -artifact_prefix="$T/" -timeout=10 \
		-dict="$TOP/tests/fuzz/control.dict" "$@" \
		"$T/corpus" "$SEEDS" >"$T/$log" 2>&1
}
# show LOG: why a run failed, and the input that did it
show() {
	grep -E -A40 'ERROR|^control_fuzz: |runtime error|deadly|leak' "$T/$1" |
		head -60 | sed 's/^/#   /'
	for f in "$T"/crash-* "$T"/leak-* "$T"/timeout-* "$T"/slow-unit-*; do
		[ -e "$f" ] && diag "reproducer: $(basename "$f") = $(od -An -c "$f" | tr -s ' ' | head -c 300)"
	done
}

fuzz seeds.log -runs=0
rc=$?
ok $rc "every seed runs clean"
[ $rc -eq 0 ] || show seeds.log

# a fixed seed: the same inputs every time, unless TEND_FUZZ_SEED says
fuzz run.log -seed="${TEND_FUZZ_SEED:-1}" -runs="${TEND_FUZZ_RUNS:-30000}" \
	-max_total_time="${TEND_FUZZ_TIME:-10}"
rc=$?
ok $rc "mutations of the seeds run clean"
[ $rc -eq 0 ] || show run.log
diag "$(grep -E '^#[0-9]+.*(DONE|pulse|NEW)' "$T/run.log" | tail -1)"

# Two bugs the fuzzer found, kept as regressions (tests/fuzz/known/):
# a client waiting for a reload must get its reply even if it sends
# 64 KiB more meanwhile, or shuts its writing side.
for input in reload-then-64k-more reload-then-shut; do
	"$FUZZ" "$TOP/tests/fuzz/known/$input" >"$T/$input.log" 2>&1
	ok $? "regression: $input"
	grep '^control_fuzz: ' "$T/$input.log" | sed 's/^/#   /'
done

done_testing

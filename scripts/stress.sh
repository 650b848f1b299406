#!/usr/bin/env bash
# make stress: the Reliability issue's figures, on demand. Runs each stress program with a time
# bound and prints ONE summary line per figure ("stress: <figure>: ..."), then "N passed, M failed";
# exits non-zero when any figure misses its bar. Not part of `make test` (which runs short
# versions of each check). Full run: ~10-15 min on 2 cores.
#
#   DESCENT_STRESS_QUICK=1   small counts (a smoke run of every figure, ~2 min)
#   DESCENT_FUZZ_SECONDS=N   how long the checkpoint fuzzer runs (default 120; quick 15)
#   scripts/stress.sh --self-test   runs every figure with a planted fault (DESCENT_STRESS_PLANT=1,
#                            quick counts) and passes only when every figure FAILS as planted
#
# Logs (each program's stderr, the fuzzer's output) go to build/stress/logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
bin=build/stress
logs=$bin/logs
mkdir -p "$logs"
export SWIFT_BACKTRACE=enable=no  # the Swift runtime's backtracer would race AddressSanitizer's report

self_test=0
[ "${1:-}" = "--self-test" ] && self_test=1
quick=${DESCENT_STRESS_QUICK:-0}
[ $self_test = 1 ] && quick=1
if [ "$quick" = 1 ]; then
    # api_calls: 54,000 (+10%) is 4 batches of 15,000, the batches `make test` runs, whose every
    # target succeeds at least once (3 batches leave a few rarely-successful targets unreached).
    abi_calls=24000 api_calls=54000 kills=20 concurrent_rounds=20 forks=100 thread_rounds=1 thread_epochs=3 cycles=100000
    fuzz_seconds=${DESCENT_FUZZ_SECONDS:-15}
else
    abi_calls=1000000 api_calls=300000 kills=200 concurrent_rounds=200 forks=1000 thread_rounds=5 thread_epochs=10 cycles=1000000
    fuzz_seconds=${DESCENT_FUZZ_SECONDS:-120}
fi
if [ $self_test = 1 ]; then export DESCENT_STRESS_PLANT=1; fi

passed=0 failed=0
started=$(date +%s)

# figure NAME SECONDS COMMAND...: runs COMMAND with a time limit; its "stress:" lines are the
# figure; its exit status (0) is the bar.
figure() {
    local name=$1 seconds=$2
    shift 2
    local out=$logs/$name.out err=$logs/$name.log status
    timeout --kill-after=10 "$seconds" "$@" >"$out" 2>"$err"
    status=$?
    grep '^stress:' "$out" || echo "stress: $name: no figure printed"
    if [ $status = 124 ] || [ $status = 137 ]; then echo "  ($name: stopped after its $seconds s limit)"; fi
    report "$name" $status
}

# report NAME STATUS: counts the figure; under --self-test a figure passes when it failed.
report() {
    local name=$1 status=$2
    if [ $self_test = 1 ]; then
        if [ "$status" != 0 ]; then passed=$((passed + 1)); echo "  self-test: $name caught its planted fault";
        else failed=$((failed + 1)); echo "  self-test: $name did NOT catch its planted fault"; fi
    elif [ "$status" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "  FAILED: $name (exit $status); see $logs/$name.log:"
        tail -n 8 "$logs/$name.log" | sed 's/^/    /'
    fi
}

figure hostile-abi 1800 env PYTHONPATH=python "$PYTHON" python/tests/stress_abi_fuzz.py $abi_calls
figure hostile-api 1800 env PYTHONPATH=python "$PYTHON" python/tests/stress_api_fuzz.py $api_calls
figure kill-save 900 $bin/stress_kill_save $kills
figure corrupt 600 $bin/stress_corrupt
figure concurrent-save 900 $bin/stress_concurrent_save $concurrent_rounds 3 4
figure fork 1200 $bin/stress_fork $forks
figure oom 900 $bin/stress_oom
figure threads 900 $bin/stress_threads $thread_rounds $thread_epochs
figure rss 900 $bin/stress_rss $cycles

# The coverage-guided fuzzer over the checkpoint loader (Tests/fuzz/CheckpointFuzz.swift).
fuzz() {
    local log=$logs/fuzz.log corpus seeds artifacts status
    if ! scripts/build-fuzzer.sh >"$logs/fuzz-build.log" 2>&1; then
        echo "stress: coverage-guided fuzzer on the checkpoint loader: the fuzz target did not build"
        tail -n 8 "$logs/fuzz-build.log" | sed 's/^/    /'
        return 1
    fi
    corpus=$(mktemp -d /tmp/descent-fuzz-corpus-XXXXXX)
    seeds=$(mktemp -d /tmp/descent-fuzz-seeds-XXXXXX)
    artifacts=$logs/fuzz-artifacts
    rm -rf "$artifacts" && mkdir -p "$artifacts"
    local plant_env=()
    [ $self_test = 1 ] && plant_env=(DESCENT_FUZZ_SELF_TEST=1)
    DESCENT_FUZZ_WRITE_SEEDS=$seeds build/fuzz/checkpoint_fuzz >/dev/null 2>&1
    local start=$(date +%s)
    env "${plant_env[@]}" timeout --kill-after=10 $((fuzz_seconds + 120)) build/fuzz/checkpoint_fuzz \
        -max_total_time="$fuzz_seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1
    status=$?
    local seconds=$(( $(date +%s) - start ))
    local seed_count inited final runs crashes corpus_count
    seed_count=$(ls "$seeds" | wc -l)
    inited=$(grep -m1 'INITED cov:' "$log" | sed -E 's/.*cov: ([0-9]+).*/\1/')
    final=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
    runs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}')
    [ -z "$runs" ] && runs=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -E 's/^#([0-9]+).*/\1/')
    corpus_count=$(ls "$corpus" | wc -l)
    crashes=$(ls "$artifacts" | wc -l)
    runs=$(echo "${runs:-0}" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta')
    printf "stress: coverage-guided fuzzer on the checkpoint loader: %s executions (a %d s budget; libFuzzer; the Swift core compiled with -sanitize=fuzzer,address, so coverage is measured inside the parser), coverage %s -> %s edges, corpus %s seeds -> %s inputs, %d crashes (%d s)\n" \
        "$runs" "$fuzz_seconds" "${inited:-?}" "${final:-?}" "$seed_count" "$corpus_count" "$crashes" "$seconds"
    if [ "$crashes" != 0 ]; then
        grep -m3 -E 'Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" | sed 's/^/    /'
        echo "    reproduce: build/fuzz/checkpoint_fuzz $(ls -d "$artifacts"/* | head -n 1)"
    fi
    rm -rf "$corpus" "$seeds"
    [ $status = 0 ] && [ "$crashes" = 0 ] && [ "$runs" != 0 ]
}
fuzz
report fuzz $?

elapsed=$(( $(date +%s) - started ))
if [ $self_test = 1 ]; then
    echo "stress self-test: every figure run with a planted fault must fail ($elapsed s)"
else
    echo "make stress: $elapsed s$([ "$quick" = 1 ] && echo ' (quick run: DESCENT_STRESS_QUICK=1)')"
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]

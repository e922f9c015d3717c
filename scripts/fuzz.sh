#!/usr/bin/env bash
# libFuzzer runs of the CallrecFuzzer targets (Fuzz/README.md), for the Makefile.
#
#   scripts/fuzz.sh run SECONDS TARGET...    fuzz each target from its committed corpus for SECONDS;
#                                            what it finds goes to a temporary folder (or, with
#                                            FUZZ_WORK set, to $FUZZ_WORK/TARGET, kept for the next run)
#   scripts/fuzz.sh grow SECONDS TARGET...   fuzz, then merge what adds coverage into the corpus
#   scripts/fuzz.sh seed TARGET...           write seeds (real captures, generated calls) and
#                                            merge what adds coverage into the corpus
#   scripts/fuzz.sh minimise TARGET...       rewrite the corpus as the smallest set that keeps every
#                                            edge it and the long runs ($FUZZ_SCRATCH/long) reach
#
# A crash, a broken invariant, a hang (-timeout) or memory over -rss_limit_mb
# fails the run and leaves the input in $FUZZ_SCRATCH/TARGET-crash-* (or
# -timeout-, -oom-); replay it with .build/debug/CallrecFuzzer TARGET FILE.
set -uo pipefail
cd "$(dirname "$0")/.."

scratch=${FUZZ_SCRATCH:-.build/fuzz}
fuzzer=$scratch/release/CallrecFuzzer
replayer=.build/debug/CallrecFuzzer
flags=(-timeout=10 -rss_limit_mb=1024 -print_final_stats=1)
mode=$1
shift

# What a run of TARGET found and how it ended (its log's summary lines), and the log's end when it failed.
report() {
    local target=$1 log=$2 status=$3
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' "$log" | sed "s/^/  $target: /"
    [ "$status" -eq 0 ] || tail -40 "$log"
}

case $mode in
run)
    # The targets are fuzzed side by side, FUZZ_JOBS at a time (default: one per core), each for SECONDS:
    # the same fuzzing as one after the other, in a fraction of the wall-clock time.
    seconds=$1
    shift
    parallel=${FUZZ_JOBS:-$(nproc)}
    declare -A pids logs tmps
    for target in "$@"; do
        while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
        logs[$target]=$scratch/fuzz-$target${FUZZ_WORK:+-long}.log
        # What the run finds: a temporary folder, or $FUZZ_WORK/TARGET kept from run to run.
        if [ -n "${FUZZ_WORK:-}" ]; then
            tmps[$target]=$FUZZ_WORK/$target
            mkdir -p "${tmps[$target]}"
        else
            tmps[$target]=$(mktemp -d)
        fi
        echo "fuzzing $target for $seconds s (log: ${logs[$target]})"
        SWIFT_BACKTRACE=enable=no "$fuzzer" "$target" -max_total_time="$seconds" "${flags[@]}" \
            -artifact_prefix="$scratch/$target-" "${tmps[$target]}" "Fuzz/corpus/$target" >"${logs[$target]}" 2>&1 &
        pids[$target]=$!
    done
    failed=0
    for target in "$@"; do
        wait "${pids[$target]}"
        status=$?
        [ -n "${FUZZ_WORK:-}" ] || rm -rf "${tmps[$target]}"
        report "$target" "${logs[$target]}" $status
        [ $status -eq 0 ] || failed=$status
    done
    exit $failed
    ;;
grow)
    seconds=$1
    shift
    for target in "$@"; do
        corpus=Fuzz/corpus/$target
        log=$scratch/fuzz-$target${FUZZ_WORK:+-long}.log
        # What the run finds: a temporary folder, or $FUZZ_WORK/TARGET kept from run to run.
        if [ -n "${FUZZ_WORK:-}" ]; then
            tmp=$FUZZ_WORK/$target
            mkdir -p "$tmp"
        else
            tmp=$(mktemp -d)
        fi
        echo "fuzzing $target for $seconds s (log: $log)"
        SWIFT_BACKTRACE=enable=no "$fuzzer" "$target" -max_total_time="$seconds" "${flags[@]}" \
            -artifact_prefix="$scratch/$target-" "$tmp" "$corpus" >"$log" 2>&1
        status=$?
        if [ $status -eq 0 ] && [ "$mode" = grow ]; then
            "$fuzzer" "$target" -merge=1 "${flags[@]}" "$corpus" "$tmp" >>"$log" 2>&1
            status=$?
            echo "  $corpus: $(ls "$corpus" | wc -l) inputs, $(du -sh --apparent-size "$corpus" | cut -f1)"
        fi
        [ -n "${FUZZ_WORK:-}" ] || rm -rf "$tmp"
        grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' "$log" | sed 's/^/  /'
        if [ $status -ne 0 ]; then
            tail -40 "$log"
            exit $status
        fi
    done
    ;;
seed)
    for target in "$@"; do
        corpus=Fuzz/corpus/$target
        tmp=$(mktemp -d)
        mkdir -p "$corpus"
        "$replayer" seed "$target" "$tmp/seeds" ../shared/data/captures/*.pcap* ../shared/data/captures/*.rtp || exit 1
        "$fuzzer" "$target" -merge=1 "${flags[@]}" "$corpus" "$tmp/seeds" >"$scratch/seed-$target.log" 2>&1 || {
            tail -40 "$scratch/seed-$target.log"
            exit 1
        }
        rm -rf "$tmp"
        echo "  $corpus: $(ls "$corpus" | wc -l) inputs, $(du -sh --apparent-size "$corpus" | cut -f1)"
    done
    ;;
minimise)
    # The smallest set of inputs that keeps every edge the corpus and the long runs reach:
    # smallest first (-merge=1), then a set cover; hand-made seed-* and regression-* stay as they are.
    for target in "$@"; do
        corpus=Fuzz/corpus/$target
        tmp=$(mktemp -d)
        mkdir "$tmp/first" "$tmp/cover"
        find "$corpus" -maxdepth 1 -type f \( -name 'seed-*' -o -name 'regression-*' \) -exec cp {} "$tmp/cover/" \;
        sources=("$corpus")
        [ -d "$scratch/long/$target" ] && sources+=("$scratch/long/$target")
        log=$scratch/minimise-$target.log
        "$fuzzer" "$target" -merge=1 -use_counters=0 "${flags[@]}" "$tmp/first" "${sources[@]}" >"$log" 2>&1 &&
            "$fuzzer" "$target" -set_cover_merge=1 -use_counters=0 "${flags[@]}" "$tmp/cover" "$tmp/first" >>"$log" 2>&1 || {
            tail -40 "$log"
            exit 1
        }
        find "$corpus" -maxdepth 1 -type f -delete
        cp "$tmp/cover/"* "$corpus/"
        rm -rf "$tmp"
        echo "  $corpus: $(ls "$corpus" | wc -l) inputs, $(du -sh --apparent-size "$corpus" | cut -f1)"
    done
    ;;
*)
    echo "usage: scripts/fuzz.sh run|grow SECONDS TARGET... | seed TARGET... | minimise TARGET..." >&2
    exit 2
    ;;
esac

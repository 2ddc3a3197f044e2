#!/bin/sh
# The commands every job of examples/ci's pipelines runs (docs/ci.md), the same locally:
#   ci.sh plan RELEASE           plan.bin, its review, its stages, and what changed since OLD_PLAN (if set)
#   ci.sh apply STAGE SHARD      one stage of plan.bin on one shard (K/N, or auto in a GitLab parallel job)
#   ci.sh merge                  every shard's report -> report.json, junit.xml, and the job summary
#                                (steps of stages that never ran, after a failure, are reported skipped)
# essh's exit code is the job's: 0 all succeeded, 1 a step failed, 2 bad input (docs/cli.md).
set -eu
cmd=$1
shift
case "$cmd" in
plan)
    if [ -n "${OLD_PLAN:-}" ] && [ -f "$OLD_PLAN" ]; then
        essh plan release -o plan.bin --diff-against "$OLD_PLAN" -- "$1"
    else
        essh plan release -o plan.bin -- "$1"
    fi
    essh show --stages plan.bin
    ;;
apply)
    stage=$1
    shard=$2
    mkdir -p reports
    name="stage$stage-shard-${CI_NODE_INDEX:-${shard%/*}}"
    essh apply plan.bin --stage "$stage" --shard "$shard" --report "reports/$name.json" --junit "reports/$name.xml"
    ;;
merge)
    essh report merge reports/*.json --fill-from plan.bin -o report.json
    essh report junit report.json -o junit.xml
    essh report summary report.json --format markdown >> "${GITHUB_STEP_SUMMARY:-summary.md}"
    ;;
*)
    echo "usage: ci.sh plan RELEASE | apply STAGE SHARD | merge" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Run the benchmarks; figures are printed and kept in bench/results/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
"$VENV/bin/python" bench/backfill.py --accounts "${BENCH_ACCOUNTS:-100000}"
# Two runconsumers on one backfill in key ranges: at the emulator's pace, then at a real org's
# (800 ms a call, REST), one process and two; and what the embedded MongoDB takes from 1 and 2 writers.
"$VENV/bin/python" bench/backfill.py --accounts "${BENCH_ACCOUNTS:-100000}" --no-plain --processes 2 --range-size 25000
"$VENV/bin/python" bench/backfill.py --accounts 30000 --no-plain --bulk-threshold 100000000 --range-size 7500 \
    --salesforce-latency-ms 800
"$VENV/bin/python" bench/backfill.py --accounts 30000 --no-plain --bulk-threshold 100000000 --range-size 7500 \
    --salesforce-latency-ms 800 --processes 2
"$VENV/bin/python" bench/mongo_writers.py
"$VENV/bin/python" bench/latency.py --rate 50 --seconds "${BENCH_LATENCY_SECONDS:-60}"
"$VENV/bin/python" bench/latency.py --rate 50 --seconds "${BENCH_LATENCY_SECONDS:-60}" --capture cdc
# CDC at issue 12's rates; 1,000 edits/s as sObject Collections updates of 200 (see the script's --help).
"$VENV/bin/python" bench/latency.py --rate 100 --seconds "${BENCH_LATENCY_SECONDS:-60}" --capture cdc
"$VENV/bin/python" bench/latency.py --rate 1000 --seconds 30 --capture cdc --edits-per-call 200 --accounts 5000
"$VENV/bin/python" bench/writeback.py --records 10000 --soak-minutes "${BENCH_SOAK_MINUTES:-10}"
# The same write-back with a real org's pace: ~300 ms per 200-record call (the emulator answers in ms).
"$VENV/bin/python" bench/writeback.py --records 10000 --soak-minutes 0 --salesforce-latency-ms 300
# Live edits (1 and 10 a second) idle and during a backfill job, lost edits counted, both capture modes.
"$VENV/bin/python" bench/live_backfill.py --accounts "${BENCH_ACCOUNTS:-100000}" --capture polling
"$VENV/bin/python" bench/live_backfill.py --accounts "${BENCH_ACCOUNTS:-100000}" --capture cdc

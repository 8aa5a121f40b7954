#!/bin/bash
# Run irctest (third_party/irctest, MIT) against teahouse's IRC door: four fresh servers, the
# tests spread over them, each with the admin account operuser/operpassword that irctest's
# OPER tests use. Adapted from the project's shared runner (../shared/irctest).
#
# usage: tools/irctest/against-teahouse.sh TEAHOUSE_BIN [OUTFILE] [extra pytest args...]
# env:   IRCTEST_CONFIG (default tools/irctest/teahouse.toml)
#        IRCTEST_MIN_PASSED / IRCTEST_MAX_FAILED: exit 1 when the score is below the floor
# Ends with "irctest: P passed, F failed, S skipped".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(realpath "$1"); shift
out=${1:-$(mktemp --suffix .irctest.log)}; [ $# -gt 0 ] && shift
config=${IRCTEST_CONFIG:-$here/teahouse.toml}
export IRCTEST_SRC=${IRCTEST_SRC:-$root/third_party/irctest}
ports=() pids=() dirs=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "${dirs[@]}"' EXIT
for _ in 1 2 3 4; do
  data=$(mktemp -d); dirs+=("$data")
  echo operpassword | "$bin" user add operuser --admin --password-stdin --data-dir "$data" >/dev/null
  "$bin" serve --config "$config" --data-dir "$data" --host 127.0.0.1 --port 0 \
    --irc-port 0 --web-port 0 --no-console >"$data/serve.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q 'irc=' "$data/serve.out" && break; sleep 0.2; done
  p=$(grep -o 'irc=[0-9.]*:[0-9]*' "$data/serve.out" | head -1 | cut -d: -f2)
  [ -n "$p" ] || { echo "teahouse serve printed no irc=HOST:PORT"; cat "$data/serve.out"; exit 1; }
  ports+=("$p")
done
echo "log: $out"
score=$("$here/run-irctest.sh" "127.0.0.1:$(IFS=,; echo "${ports[*]}")" "$out" "$@" | tail -1)
echo "$score"
passed=$(echo "$score" | sed -n 's/irctest: \([0-9]*\) passed.*/\1/p')
failed=$(echo "$score" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
[ -n "$passed" ] && [ -n "$failed" ] || { echo "irctest gave no score"; exit 1; }
if [ "$passed" -lt "${IRCTEST_MIN_PASSED:-0}" ] || [ "$failed" -gt "${IRCTEST_MAX_FAILED:-9999}" ]; then
  echo "irctest below the floor: need >= ${IRCTEST_MIN_PASSED:-0} passed and <= ${IRCTEST_MAX_FAILED:-9999} failed"
  python3 "$here/summarize-failures.py" "$out.junit.xml" || true
  exit 1
fi

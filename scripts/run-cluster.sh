#!/usr/bin/env bash
# `make run`: a local session cluster (one JobManager, two TaskManagers with two slots each,
# data in ./strom-data), the state-machine example submitted through the `strom` CLI, and the
# REST API left running until Ctrl-C, which stops everything this script started.
set -euo pipefail
bin=target/debug
data="$PWD/strom-data"
rest_port="${REST_PORT:-8081}"
rpc_port="${RPC_PORT:-6123}"
events="${RUN_EVENTS:-2000000}"
mkdir -p "$data/logs"
rm -rf "$data/alerts"

pids=()
stop() {
  trap - EXIT INT TERM
  if ((${#pids[@]})); then
    echo "== stopping the cluster"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop EXIT
trap 'exit 130' INT TERM

"$bin/strom-jobmanager" -D "rest.port=$rest_port" -D "jobmanager.rpc.port=$rpc_port" 2>"$data/logs/jobmanager.log" &
pids+=($!)
for i in 1 2; do
  "$bin/strom-taskmanager" -D "jobmanager.rpc.port=$rpc_port" -D taskmanager.numberOfTaskSlots=2 \
    -D "io.tmp.dirs=$data/taskmanager-$i" 2>"$data/logs/taskmanager-$i.log" &
  pids+=($!)
done

export STROM_REST_ADDRESS="localhost:$rest_port"
echo "== waiting for the JobManager (REST on http://localhost:$rest_port, logs in $data/logs)"
ready=""
for _ in $(seq 1 100); do
  if "$bin/strom" list >/dev/null 2>&1; then ready=1; break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "the JobManager exited; see $data/logs/jobmanager.log:" >&2
    tail -n 20 "$data/logs/jobmanager.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "the JobManager did not answer on localhost:$rest_port within 10 s; see $data/logs/jobmanager.log:" >&2
  tail -n 20 "$data/logs/jobmanager.log" >&2
  exit 1
fi

echo "== submitting state-machine ($events events, parallelism 2); alerts go to $data/alerts"
"$bin/strom" run -p 2 "$bin/state-machine" --events "$events" --error-rate 0.0001 --output "$data/alerts"
echo "== alerts for invalid transitions:"
cat "$data"/alerts/* 2>/dev/null | head -n 20 || true
echo
echo "== the cluster runs on: REST API http://localhost:$rest_port (try: $bin/strom list -m localhost:$rest_port)"
echo "== Ctrl-C stops it"
wait "${pids[0]}"

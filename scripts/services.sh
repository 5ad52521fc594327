#!/usr/bin/env bash
# Throwaway PostgreSQL, RabbitMQ and an S3-compatible object store (moto) for the cluster-mode
# tests, on loopback only, with their data under one directory. Used by scripts/test.sh; run it by hand to get the same services
# for `cargo nextest run` during development.
#
#   scripts/services.sh start [DIR]   start all (default DIR: target/test-services), print env
#   scripts/services.sh stop  [DIR]   stop all, by the pids they recorded
#   scripts/services.sh env   [DIR]   print the environment the tests read
#   scripts/services.sh restart-pg|restart-rabbit [DIR]   stop and start one of them (fault tests)
#   scripts/services.sh kill-rabbit [DIR]                  kill -9 the RabbitMQ node (fault tests)
#
# Ports: PostgreSQL 55432, RabbitMQ AMQP 56720 (distribution 56721, epmd 56722), S3 (moto) 55900.
# Tests read AMTSBOTE_TEST_PG_URL, AMTSBOTE_TEST_AMQP_URL and AMTSBOTE_TEST_S3_ENDPOINT; they
# fail (not skip) without them.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-start}
dir=$(realpath -m "${2:-target/test-services}")
# Other ports (a second, private set for the fault tests, which restart what they use):
# AMTSBOTE_SERVICES_PG_PORT, AMTSBOTE_SERVICES_AMQP_PORT (distribution and epmd follow it),
# AMTSBOTE_SERVICES_S3_PORT (default: the PostgreSQL port + 468).
pg_port=${AMTSBOTE_SERVICES_PG_PORT:-55432}
amqp_port=${AMTSBOTE_SERVICES_AMQP_PORT:-56720}
dist_port=$((amqp_port + 1))
epmd_port=$((amqp_port + 2))
s3_port=${AMTSBOTE_SERVICES_S3_PORT:-$((pg_port + 468))}
node=amtsbote-test-${amqp_port}@localhost

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# Debian's /usr/sbin wrappers switch to the `rabbitmq` user when run as root, which could not
# write our data directory: call the real scripts, as whoever we are.
rabbit_bin=/usr/lib/rabbitmq/bin
[ -x "$rabbit_bin/rabbitmq-server" ] || rabbit_bin=$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /usr/sbin/x)")
rabbitmqctl() { "$rabbit_bin/rabbitmqctl" "$@"; }

env_lines() {
    echo "export AMTSBOTE_TEST_PG_URL=postgres://amtsbote@127.0.0.1:${pg_port}/amtsbote"
    echo "export AMTSBOTE_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:${amqp_port}/%2f"
    echo "export AMTSBOTE_TEST_S3_ENDPOINT=http://127.0.0.1:${s3_port}"
    echo "export AMTSBOTE_TEST_SERVICES=${dir}"
}

# PostgreSQL refuses to run as root: run it as the unprivileged `postgres` user (Debian's
# package creates it) when we are root.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_pg() {
    [ -n "$pg_bin" ] || { echo "PostgreSQL server binaries not found (install postgresql)" >&2; exit 1; }
    mkdir -p "$dir"
    # The server runs as `postgres`: it must be able to reach the directory.
    [ "$(id -u)" -eq 0 ] && chmod o+x "$(dirname "$dir")" "$dir"
    if [ ! -f "$dir/pg/PG_VERSION" ]; then
        mkdir -p "$dir/pg"
        [ "$(id -u)" -eq 0 ] && chown postgres "$dir" "$dir/pg"
        as_pg "$pg_bin/initdb" -D "$dir/pg" -U postgres --auth=trust --no-instructions >/dev/null
    fi
    if ! as_pg "$pg_bin/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
        as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
            -o "-c listen_addresses=127.0.0.1 -p ${pg_port} -k $dir/pg -c fsync=on -c max_connections=200" start >/dev/null
    fi
    if ! psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "select 1 from pg_roles where rolname='amtsbote'" | grep -q 1; then
        psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "create role amtsbote login createdb"
        psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "create database amtsbote owner amtsbote"
    fi
}

rabbit_env() {
    export RABBITMQ_NODENAME=$node
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$amqp_port
    export RABBITMQ_DIST_PORT=$dist_port
    export ERL_EPMD_PORT=$epmd_port
    export RABBITMQ_MNESIA_BASE=$dir/rabbitmq/mnesia
    export RABBITMQ_LOG_BASE=$dir/rabbitmq/log
    export RABBITMQ_PID_FILE=$dir/rabbitmq/pid
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/rabbitmq/enabled_plugins
    export RABBITMQ_CONFIG_FILE=$dir/rabbitmq/rabbitmq
    export HOME=$dir/rabbitmq   # the Erlang cookie lives here
}

start_rabbit() {
    [ -x "$rabbit_bin/rabbitmq-server" ] || { echo "rabbitmq-server not installed" >&2; exit 1; }
    mkdir -p "$dir/rabbitmq/log"
    rabbit_env
    echo "[]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$amqp_port" > "$RABBITMQ_CONFIG_FILE.conf"
    if ! rabbitmqctl -n "$node" status >/dev/null 2>&1; then
        "$rabbit_bin/rabbitmq-server" -detached >/dev/null 2>&1
        # `wait` can give up with `rabbit_is_not_running` while the node is still booting
        # (seen on a loaded 2-core machine), so wait for the application itself, with retries.
        rabbitmqctl -n "$node" wait --timeout 60 "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
        for _ in $(seq 1 24); do
            if rabbitmqctl -n "$node" await_startup --timeout 5 >/dev/null 2>&1; then
                return
            fi
            sleep 1
        done
        echo "RabbitMQ node $node did not start within about 3 minutes, see $dir/rabbitmq/log" >&2
        exit 1
    fi
}

# moto keeps its buckets in memory: nothing to keep between runs. Its pid is recorded so that
# stop ends exactly this process.
start_s3() {
    python3 -c "import moto.server" 2>/dev/null || { echo "moto is not installed (pip install 'moto[server]')" >&2; exit 1; }
    mkdir -p "$dir"
    if [ -f "$dir/moto.pid" ] && kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
        return
    fi
    python3 -m moto.server -H 127.0.0.1 -p "$s3_port" >"$dir/moto.log" 2>&1 &
    echo $! > "$dir/moto.pid"
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${s3_port}/')" 2>/dev/null; then
            return
        fi
        kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null || { echo "moto did not start, see $dir/moto.log" >&2; exit 1; }
        sleep 0.2
    done
    echo "moto did not answer on port ${s3_port} within 20 s, see $dir/moto.log" >&2
    exit 1
}

stop_s3() {
    if [ -f "$dir/moto.pid" ]; then
        kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
        rm -f "$dir/moto.pid"
    fi
}

stop_pg() {
    if [ -n "$pg_bin" ] && [ -f "$dir/pg/postmaster.pid" ]; then
        as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
    fi
}

stop_rabbit() {
    if [ -d "$dir/rabbitmq" ]; then
        rabbit_env
        rabbitmqctl -n "$node" stop >/dev/null 2>&1 || true
    fi
}

stop_all() {
    stop_s3
    stop_pg
    stop_rabbit
    if [ -d "$dir/rabbitmq" ]; then
        # The port mapper on our own port is ours: ask it to stop.
        epmd -port "$epmd_port" -kill >/dev/null 2>&1 || true
    fi
}

case "$action" in
    start) start_pg; start_rabbit; start_s3; env_lines ;;
    stop) stop_all ;;
    env) env_lines ;;
    restart-pg) stop_pg; start_pg ;;
    restart-rabbit) stop_rabbit; start_rabbit ;;
    kill-rabbit) kill -9 "$(cat "$dir/rabbitmq/pid")" 2>/dev/null || true ;;
    *) echo "usage: $0 start|stop|env|restart-pg|restart-rabbit|kill-rabbit [DIR]" >&2; exit 2 ;;
esac

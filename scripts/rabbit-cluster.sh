#!/usr/bin/env bash
# A throwaway three-node RabbitMQ cluster on this machine, for the fault tests: distinct node
# names and ports, loopback only, data under one directory, one shared Erlang cookie.
#
#   scripts/rabbit-cluster.sh start DIR BASE   start nodes 1..3, print their AMQP URLs
#   scripts/rabbit-cluster.sh kill  DIR N      kill -9 node N (its Erlang VM, by pid)
#   scripts/rabbit-cluster.sh members DIR N    queues with their member and online counts, from node N
#   scripts/rabbit-cluster.sh stop  DIR BASE   stop all nodes, by the pids they recorded
#
# Node N listens for AMQP on BASE+N, for distribution on BASE+10+N; epmd runs on BASE+20.
# Nodes are named amtsbote-c<N>-<BASE>@localhost, so clusters on different BASE ports never
# meet.
set -euo pipefail

action=${1:?usage: $0 start|kill|stop DIR BASE|N}
dir=$(realpath -m "${2:?directory}")
arg=${3:?base port or node number}

rabbit_bin=/usr/lib/rabbitmq/bin
[ -x "$rabbit_bin/rabbitmq-server" ] || rabbit_bin=$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /usr/sbin/x)")

node_env() { # N BASE
    local n=$1 base=$2
    export RABBITMQ_NODENAME=amtsbote-c$n-$base@localhost
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$((base + n))
    export RABBITMQ_DIST_PORT=$((base + 10 + n))
    export ERL_EPMD_PORT=$((base + 20))
    export RABBITMQ_MNESIA_BASE=$dir/n$n/mnesia
    export RABBITMQ_LOG_BASE=$dir/n$n/log
    export RABBITMQ_PID_FILE=$dir/n$n/pid
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/n$n/enabled_plugins
    export RABBITMQ_CONFIG_FILE=$dir/n$n/rabbitmq
    export HOME=$dir   # the shared Erlang cookie lives here
}

ctl() { "$rabbit_bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"; }

start() {
    local base=$1
    mkdir -p "$dir"
    echo "$base" > "$dir/base"
    [ -f "$dir/.erlang.cookie" ] || { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z' > "$dir/.erlang.cookie"; chmod 400 "$dir/.erlang.cookie"; }
    for n in 1 2 3; do
        node_env "$n" "$base"
        mkdir -p "$dir/n$n/log"
        echo "[]." > "$RABBITMQ_ENABLED_PLUGINS_FILE"
        printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$RABBITMQ_NODE_PORT" > "$RABBITMQ_CONFIG_FILE.conf"
        "$rabbit_bin/rabbitmq-server" -detached >/dev/null 2>&1
        ctl wait --timeout 60 "$RABBITMQ_PID_FILE" >/dev/null
        if [ "$n" -gt 1 ]; then
            ctl stop_app >/dev/null
            ctl join_cluster "amtsbote-c1-$base@localhost" >/dev/null
            ctl start_app >/dev/null
        fi
    done
    # Quorum queues get their members from the nodes running when they are declared: wait
    # until every node sees all three, or a queue could end up with two members and lose its
    # majority with the first node killed.
    for n in 1 2 3; do
        node_env "$n" "$base"
        ctl await_online_nodes 3 --timeout 60000 >/dev/null
    done
    for n in 1 2 3; do
        echo "amqp://guest:guest@127.0.0.1:$((base + n))/%2f"
    done
}

# Prints `<queue>\t<number of members>\t<number online>` for every queue, as node N sees them.
members() {
    local n=$1 base
    base=$(cat "$dir/base")
    node_env "$n" "$base"
    ctl -q list_queues name members online | awk -F'\t' 'NR > 1 || $1 != "name" {
        m = gsub(/@/, "@", $2); o = gsub(/@/, "@", $3); print $1 "\t" m "\t" o }'
}

kill_node() {
    local n=$1 base
    base=$(cat "$dir/base")
    local pid
    pid=$(cat "$dir/n$n/pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
}

stop() {
    local base=$1
    for n in 3 2 1; do
        node_env "$n" "$base"
        if [ -f "$RABBITMQ_PID_FILE" ]; then
            ctl stop >/dev/null 2>&1 || kill -9 "$(cat "$RABBITMQ_PID_FILE")" 2>/dev/null || true
        fi
    done
    node_env 1 "$base"
    epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
}

case "$action" in
    start) start "$arg" ;;
    kill) kill_node "$arg" ;;
    members) members "$arg" ;;
    stop) stop "$arg" ;;
    *) echo "usage: $0 start|kill|members|stop DIR BASE|N" >&2; exit 2 ;;
esac

#!/bin/sh
# Forms the Redis Cluster, or grows it: idempotent, safe to run again at any time.
#   REDIS_NODES  space-separated host:port of every StatefulSet pod, ordinal order
#   SHARDS       wanted number of masters
#   REPLICAS     replicas per master
# A fresh set of nodes is created with `--cluster create`. On an existing cluster,
# nodes it does not know are added: masters until SHARDS exist, then replicas; slots
# are rebalanced onto new masters. A rerun on a complete cluster changes nothing.
set -eu

ip_of() {
  host=${1%:*}
  getent hosts "$host" | awk '{print $1; exit}'
}
addr_of() { echo "$(ip_of "$1"):${1##*:}"; }
cli() { node=$1; shift; redis-cli -h "${node%:*}" -p "${node##*:}" "$@" | tr -d '\r'; }
slots_assigned() { cli "$1" cluster info | awk -F: '/^cluster_slots_assigned/{print $2}'; }
settle() {
  # redis-cli refuses to change a cluster whose nodes disagree; gossip needs a moment.
  n=0
  until redis-cli --cluster check "$1" >/dev/null 2>&1; do
    n=$((n + 1)); [ "$n" -le 60 ] || { echo "cluster did not settle" >&2; return 1; }
    sleep 2
  done
}

for node in $REDIS_NODES; do
  until [ "$(cli "$node" ping 2>/dev/null)" = "PONG" ]; do echo "waiting for $node"; sleep 2; done
done

seed=""
for node in $REDIS_NODES; do
  if [ "$(slots_assigned "$node")" != "0" ]; then seed=$node; break; fi
done

if [ -z "$seed" ]; then
  addrs=""
  for node in $REDIS_NODES; do addrs="$addrs $(addr_of "$node")"; done
  echo "creating cluster of$addrs with $REPLICAS replica(s) per master"
  # shellcheck disable=SC2086
  redis-cli --cluster create $addrs --cluster-replicas "$REPLICAS" --cluster-yes
  seed=$(echo "$REDIS_NODES" | awk '{print $1}')
else
  seed_addr=$(addr_of "$seed")
  settle "$seed_addr" || redis-cli --cluster fix "$seed_addr" --cluster-yes
  added_master=0
  # Roles come from each node itself (ROLE), never from gossip, which lags behind.
  masters=0
  joining=""
  for node in $REDIS_NODES; do
    if cli "$seed" cluster nodes | grep -q "^$(cli "$node" cluster myid) "; then
      [ "$(cli "$node" role | head -n 1)" = "master" ] && masters=$((masters + 1))
    else
      joining="$joining $node"
    fi
  done
  for node in $joining; do
    settle "$seed_addr"
    if [ "$masters" -lt "$SHARDS" ]; then
      echo "adding $node as a master"
      redis-cli --cluster add-node "$(addr_of "$node")" "$seed_addr"
      masters=$((masters + 1))
      added_master=1
    else
      echo "adding $node as a replica"
      redis-cli --cluster add-node "$(addr_of "$node")" "$seed_addr" --cluster-slave
    fi
    id=$(cli "$node" cluster myid)
    n=0
    until cli "$seed" cluster nodes | grep -q "^$id "; do
      n=$((n + 1)); [ "$n" -le 60 ] || { echo "$node never joined" >&2; exit 1; }
      sleep 1
    done
  done
  if [ "$added_master" = 1 ]; then
    settle "$seed_addr"
    echo "rebalancing slots onto the new masters"
    redis-cli --cluster rebalance "$seed_addr" --cluster-use-empty-masters
  fi
fi

n=0
until cli "$seed" cluster info | grep -q '^cluster_state:ok'; do
  n=$((n + 1)); [ "$n" -le 90 ] || { echo "cluster_state never became ok" >&2; exit 1; }
  sleep 2
done
echo "cluster ok"

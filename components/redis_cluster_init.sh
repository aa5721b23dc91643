#!/bin/sh
# Forms the Redis Cluster, or grows it: idempotent, safe to run again at any time, also
# after a run that was interrupted halfway.
#   REDIS_NODES  space-separated host:port of every StatefulSet pod, ordinal order
#   SHARDS       wanted number of masters
#   REPLICAS     replicas per master
#   TRIES        attempts per join or attach before giving up (default 5)
# The intended topology: SHARDS masters that own slots, each with REPLICAS replicas.
# A fresh set of nodes is created with `--cluster create`. On an existing cluster every node
# that is not yet a slot-owning master or a replica (unknown to the cluster, or a slot-less
# master left by an interrupted run) is planned in ordinal order: a master while fewer than
# SHARDS masters own slots, else a replica of the master with the fewest replicas, named by
# its id (never left to redis-cli's choice, which may pick a master the joining node does
# not know yet). Slots are then rebalanced onto the new masters. A rerun on a complete
# cluster changes nothing.
set -eu

TRIES=${TRIES:-5}

ip_of() {
  host=${1%:*}
  getent hosts "$host" | awk '{print $1; exit}'
}
addr_of() { echo "$(ip_of "$1"):${1##*:}"; }
# Functions keep their variables `local` (dash, ash and bash have it): the callers' loops use
# the same short names.
cli() { local at=$1; shift; redis-cli -h "${at%:*}" -p "${at##*:}" "$@" | tr -d '\r'; }
die() { echo "$*" >&2; exit 1; }
slots_assigned() { cli "$1" cluster info | awk -F: '/^cluster_slots_assigned/{print $2}'; }
myid() { cli "$1" cluster myid; }
# A node's view of itself, never gossip (which lags behind): its role, its master, its slots.
role() { cli "$1" role | head -n 1; }
master_of() { cli "$1" cluster nodes | awk '$3 ~ /myself/ {print $4}'; }
own_slots() { cli "$1" cluster nodes | awk '$3 ~ /myself/ {print NF - 8}'; }
knows() { cli "$1" cluster nodes | grep -q "^$2 "; }
settle() {
  # redis-cli refuses to change a cluster whose nodes disagree; gossip needs a moment.
  local tries=0
  until redis-cli --cluster check "$1" >/dev/null 2>&1; do
    tries=$((tries + 1)); [ "$tries" -le 240 ] || { echo "cluster did not settle" >&2; return 1; }
    sleep 0.5
  done
}
heal() { settle "$1" || { redis-cli --cluster fix "$1" --cluster-yes && settle "$1"; }; }
wait_mesh() {
  # `--cluster check` only compares slot maps; moving a slot to a master or attaching a
  # replica fails with "ERR Unknown node" on any node that has not heard of it yet.
  # Over the nodes the seed lists as members; one that has not joined yet is not waited for.
  local ids="" members="" member mid tries
  for member in $REDIS_NODES; do
    mid=$(myid "$member")
    if knows "$seed" "$mid"; then ids="$ids $mid"; members="$members $member"; fi
  done
  for member in $members; do
    tries=0
    until [ -z "$(cli "$member" cluster nodes | awk -v want="$ids" '
        BEGIN {split(want, w, " ")} {seen[$1] = 1}
        END {for (i in w) if (!(w[i] in seen)) {print w[i]; exit}}')" ]; do
      tries=$((tries + 1)); [ "$tries" -le 240 ] || die "$member never heard of every node"
      sleep 0.5
    done
  done
}
wait_known() {
  # Both ways: the seed lists the node, and the node lists the seed.
  local joiner=$1 jid=$2 tries=0
  until knows "$seed" "$jid" && knows "$joiner" "$seed_id"; do
    tries=$((tries + 1)); [ "$tries" -le 240 ] || die "$joiner never joined"
    sleep 0.5
  done
}
fewest_replicas() {
  # The master (of $masters, in order) with the fewest replicas in $replica_of.
  local m
  for m in $masters; do
    echo "$replica_of" | awk -v m="$m" '$1 == m {n++} END {print n + 0, m}'
  done | sort -s -n -k1,1 | awk 'NR == 1 {print $2}'
}
attach() {
  # Make $1 a replica of $2: once the node itself lists its master (else REPLICATE answers
  # "ERR Unknown node"), retried a bounded number of times.
  local replica=$1 master=$2 tries=0
  until [ "$(master_of "$replica")" = "$master" ]; do
    tries=$((tries + 1)); [ "$tries" -le $((TRIES * 20)) ] || die "$replica never became a replica of $master"
    if knows "$replica" "$master"; then cli "$replica" cluster replicate "$master" >/dev/null || true; fi
    sleep 0.5
  done
}

for node in $REDIS_NODES; do
  n=0
  until [ "$(cli "$node" ping 2>/dev/null)" = "PONG" ]; do
    n=$((n + 1)); [ "$n" -le 300 ] || die "$node never answered"
    echo "waiting for $node"; sleep 2
  done
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
  seed_id=$(myid "$seed")
  heal "$seed_addr"
  # What exists: slot-owning masters, replicas (with their master), and the rest to plan.
  masters=""
  replica_of=""
  pending=""
  for node in $REDIS_NODES; do
    id=$(myid "$node")
    if knows "$seed" "$id" && [ "$(role "$node")" = "slave" ]; then
      replica_of="$replica_of
$(master_of "$node") $id"
    elif knows "$seed" "$id" && [ "$(own_slots "$node")" -gt 0 ]; then
      masters="$masters $id"
    else
      pending="$pending $node"
    fi
  done
  count=$(echo "$masters" | wc -w)
  new_masters=0
  for node in $pending; do
    id=$(myid "$node")
    if [ "$count" -lt "$SHARDS" ]; then
      if ! knows "$seed" "$id"; then
        echo "adding $node as a master"
        n=0
        until redis-cli --cluster add-node "$(addr_of "$node")" "$seed_addr"; do
          knows "$seed" "$id" && break
          n=$((n + 1)); [ "$n" -lt "$TRIES" ] || die "could not add $node"
          sleep 2; heal "$seed_addr"
        done
      else
        echo "making slot-less master $node a new master"
      fi
      wait_known "$node" "$id"
      masters="$masters $id"
      count=$((count + 1))
      new_masters=1
      continue
    fi
    mid=$(fewest_replicas)
    heal "$seed_addr"
    wait_mesh
    if ! knows "$seed" "$id"; then
      echo "adding $node as a replica of $mid"
      n=0
      until redis-cli --cluster add-node "$(addr_of "$node")" "$seed_addr" --cluster-slave --cluster-master-id "$mid"; do
        # Joined but not attached (the node did not know its master yet): attach retries that.
        knows "$seed" "$id" && break
        n=$((n + 1)); [ "$n" -lt "$TRIES" ] || die "could not add $node"
        sleep 2; heal "$seed_addr"
      done
      wait_known "$node" "$id"
    else
      echo "attaching slot-less master $node as a replica of $mid"
    fi
    attach "$node" "$mid"
    replica_of="$replica_of
$mid $id"
  done
  if [ "$new_masters" = 1 ]; then
    echo "rebalancing slots onto the new masters"
  fi
  # Also after an interrupted rebalance; on a balanced cluster it moves nothing. A failed
  # slot move leaves the slot open: heal closes it before the next attempt.
  n=0
  until heal "$seed_addr" && wait_mesh &&
      redis-cli --cluster rebalance "$seed_addr" --cluster-use-empty-masters; do
    n=$((n + 1)); [ "$n" -lt "$TRIES" ] || die "rebalance failed $TRIES times"
    sleep 2
  done
fi

n=0
until cli "$seed" cluster info | grep -q '^cluster_state:ok'; do
  n=$((n + 1)); [ "$n" -le 360 ] || { echo "cluster_state never became ok" >&2; exit 1; }
  sleep 0.5
done
echo "cluster ok"

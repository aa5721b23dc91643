#!/usr/bin/env bash
# Creates `loadline-svc`, the system user the local PostgreSQL and Redis run as when the
# project runs as root: uid and gid of 10000 or above, like the containers in the cluster
# (docs/local.md). Idempotent; without root there is nothing to create, since the servers
# then run as the invoking user.
set -euo pipefail

NAME=loadline-svc
MIN_ID=10000
MAX_ID=19999

if id -u "$NAME" >/dev/null 2>&1; then
  uid=$(id -u "$NAME"); gid=$(id -g "$NAME")
  if [ "$uid" -lt "$MIN_ID" ] || [ "$gid" -lt "$MIN_ID" ]; then
    echo "error: user $NAME exists with uid $uid gid $gid; it needs ids >= $MIN_ID (userdel $NAME, then rerun)" >&2
    exit 1
  fi
  echo "service user: $NAME present (uid $uid, gid $gid)"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "service user: not created (not root); the local servers run as $(id -un)"
  exit 0
fi

# The first free id >= MIN_ID that is free as both a uid and a gid.
id_num=$MIN_ID
while getent passwd "$id_num" >/dev/null || getent group "$id_num" >/dev/null; do
  id_num=$((id_num + 1))
  if [ "$id_num" -gt "$MAX_ID" ]; then
    echo "error: no free uid/gid between $MIN_ID and $MAX_ID for $NAME" >&2
    exit 1
  fi
done
$SUDO groupadd --system -K SYS_GID_MAX=$MAX_ID --gid "$id_num" "$NAME"
$SUDO useradd --system -K SYS_UID_MAX=$MAX_ID --uid "$id_num" --gid "$id_num" --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin --comment "loadline local PostgreSQL and Redis" "$NAME"
echo "service user: created $NAME (uid $id_num, gid $id_num)"

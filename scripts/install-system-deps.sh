#!/usr/bin/env bash
# Installs the Debian packages that the tests and the local environment run for real:
# PostgreSQL, Redis (standalone and cluster), Prometheus (with promtool), the Redis and
# PostgreSQL exporters and Alertmanager (with amtool).
# Idempotent: does nothing when every binary is already there.
set -euo pipefail

need=()
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need+=(postgresql)
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || need+=(redis-server redis-tools)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
# The exporters the local environment runs beside Redis and PostgreSQL (loadline local up).
for exporter in prometheus-redis-exporter prometheus-postgres-exporter; do
  command -v "$exporter" >/dev/null || need+=("$exporter")
done
# Alertmanager for the local environment, and amtool for checking rendered configs.
# Debian installs the server as prometheus-alertmanager (upstream: alertmanager).
command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null || need+=(prometheus-alertmanager)

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: present (postgresql, redis, prometheus, exporters, alertmanager)"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "error: missing system packages: ${need[*]}" >&2
  echo "       installing them needs root or password-less sudo; run as root:" >&2
  echo "       apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "error: missing system packages (${need[*]}) and no apt-get on this machine;" >&2
  echo "       install PostgreSQL, Redis >= 7, Prometheus, Alertmanager, redis_exporter and postgres_exporter with your package manager" >&2
  exit 1
fi

echo "system packages: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages try to start their daemons; nothing here relies on that, and the
# project's own scripts start every service on free loopback ports.
echo "system packages: installed ${need[*]}"

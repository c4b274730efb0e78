#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for bench/copy_rate.py: nothing else writes to it, so the WAL between two LSNs and
# the server processes' CPU time are the benchmark's alone (the shared server on :5432 has other clients).
#
#   bench/private_pg.sh start [PORT] [extra postgres -c settings...]   e.g. start 55432 wal_level=minimal max_wal_senders=0
#   bench/private_pg.sh stop [PORT]
#
# Default settings are PostgreSQL 15's (the shared server runs with them too: wal_level=replica,
# full_page_writes=on, shared_buffers=128MB, max_wal_size=1GB). Data under /tmp/pg-bench-PORT, owned by postgres.
set -euo pipefail
action=${1:?start or stop}
port=${2:-55432}
shift $(( $# >= 2 ? 2 : $# ))
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data=/tmp/pg-bench-$port
as_postgres() { runuser -u postgres -- "$@"; }
case $action in
  start)
    if [ ! -d "$data" ]; then
      install -d -o postgres -g postgres "$data"
      as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust >/dev/null
    fi
    options="-p $port -k /tmp -c listen_addresses=127.0.0.1"
    for setting in "$@"; do options="$options -c $setting"; done
    as_postgres "$bin/pg_ctl" -D "$data" -o "$options" -l "$data/log" -w start >/dev/null
    psql -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT 'CREATE DATABASE bench'
      WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bench')" | psql -h 127.0.0.1 -p "$port" -U postgres -q
    echo "postgresql+psycopg2://postgres@127.0.0.1:$port/bench"
    ;;
  stop)
    as_postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    ;;
  *) echo "usage: $0 start|stop [PORT] [setting=value ...]" >&2; exit 2 ;;
esac

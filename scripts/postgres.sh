#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
#   scripts/postgres.sh start DIR   initialise and start a server with its data under DIR
#                                   (DIR must be empty or absent); print its DSN on stdout
#   scripts/postgres.sh stop DIR    stop that server and delete DIR
#
# The server listens on 127.0.0.1 only, on a free port, trusts local connections and
# skips fsync: it holds nothing worth keeping. The DSN carries a dummy password because
# dlt insists on one; trust authentication ignores it. When no server binaries are found it
# installs Debian's `postgresql` package. initdb refuses to run as root, so under root
# the server runs as the `postgres` user (created by that package, or here).
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local candidate
    for candidate in "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")" \
        /usr/lib/postgresql/*/bin; do
        if [[ -x "$candidate/pg_ctl" && -x "$candidate/initdb" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_server() {
    if ! find_bindir >/dev/null; then
        log "no PostgreSQL server found; installing Debian's postgresql package"
        # Without this, the package creates and starts a system-wide cluster that
        # the tests do not use.
        if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
            mkdir -p /etc/postgresql-common
            echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
        fi
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            -o Dpkg::Options::=--force-confold postgresql >&2
    fi
    find_bindir || { log "PostgreSQL binaries still missing after install"; exit 1; }
}

# Run a command as the server's owner: ourselves, or `postgres` when we are root.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1 bindir port
    bindir=$(ensure_server)
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    fi
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres "$dir"
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off" >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://postgres:postgres@127.0.0.1:$port/postgres"
}

stop() {
    local dir=$1 bindir
    if [[ -f "$dir/data/postmaster.pid" ]] && bindir=$(find_bindir); then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start "${2:?usage: $0 start DIR}" ;;
    stop) stop "${2:?usage: $0 stop DIR}" ;;
    *) log "usage: $0 start DIR | stop DIR"; exit 2 ;;
esac

# Finds PostgreSQL for tests and benchmarks, or starts a throwaway cluster.
# Sourced by scripts/test.sh and scripts/bench.sh; sets and exports
# COUNTERSIGN_TEST_DATABASE_URL, or stops with what to install.

cleanup_cluster=""
cleanup() {
    if [[ -n "$cleanup_cluster" ]]; then
        eval "$cleanup_cluster" || true
    fi
}
trap cleanup EXIT

postgres_answers() {
    local url="$1"
    if command -v psql >/dev/null 2>&1; then
        psql "$url" -Atqc 'select 1' >/dev/null 2>&1
    else
        # No client: at least the port must accept connections.
        local hostport="${url#*@}"; hostport="${hostport%%/*}"
        (exec 3<>"/dev/tcp/${hostport%%:*}/${hostport##*:}") 2>/dev/null
    fi
}

start_throwaway_cluster() {
    local dir port run_as=()
    dir="$(mktemp -d /tmp/countersign-pg.XXXXXX)"
    port=$((20000 + RANDOM % 20000))
    if [[ "$(id -u)" == 0 ]]; then
        # PostgreSQL refuses to run as root.
        chown nobody "$dir"
        run_as=(runuser -u nobody --)
    fi
    say "starting a throwaway PostgreSQL on port $port"
    "${run_as[@]}" initdb -D "$dir/data" -U postgres -A trust >/dev/null
    "${run_as[@]}" pg_ctl -D "$dir/data" -l "$dir/log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off" start >/dev/null
    cleanup_cluster="${run_as[*]} pg_ctl -D '$dir/data' -m immediate stop >/dev/null; rm -rf '$dir'"
    export COUNTERSIGN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

find_postgres() {
    if [[ -n "${COUNTERSIGN_TEST_DATABASE_URL:-}" ]]; then
        postgres_answers "$COUNTERSIGN_TEST_DATABASE_URL" && return
        echo "COUNTERSIGN_TEST_DATABASE_URL is set but PostgreSQL does not answer there" >&2
        exit 1
    fi
    local local_url="postgres://postgres@127.0.0.1:5432/postgres"
    if postgres_answers "$local_url"; then
        export COUNTERSIGN_TEST_DATABASE_URL="$local_url"
        return
    fi
    for bin in /usr/lib/postgresql/*/bin; do
        [[ -d "$bin" ]] && PATH="$PATH:$bin"
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        start_throwaway_cluster
        return
    fi
    cat >&2 <<'MSG'
PostgreSQL is needed for the tests and none was found:
  - COUNTERSIGN_TEST_DATABASE_URL is not set,
  - nothing answers at postgres://postgres@127.0.0.1:5432/postgres,
  - initdb and pg_ctl are not installed.
Install the server (Debian/Ubuntu: apt-get install postgresql) or point
COUNTERSIGN_TEST_DATABASE_URL at a server where the user may create databases.
MSG
    exit 1
}


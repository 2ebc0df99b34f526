#!/usr/bin/env bash
# start-postgres.sh: start a throwaway PostgreSQL for the sqlstore tests and
# print the line that points them at it. For scripts/test (CI sets CI=true,
# and the PostgreSQL tests then fail rather than skip without a server):
#
#   eval "$(scripts/start-postgres.sh)"
#
# Installs Debian's postgresql when no server is found (as root, or with
# sudo), creates a cluster under a temporary directory owned by the
# "postgres" user with trust authentication, listens on 127.0.0.1 only, and
# prints `export WHARF_TEST_POSTGRES_URL=...` plus a stop command for an EXIT
# trap. Everything else goes to stderr.
set -euo pipefail

port=${WHARF_TEST_POSTGRES_PORT:-55433}
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi

find_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return 0; }
	done
	return 1
}

if ! bindir=$(find_bindir); then
	echo "start-postgres: installing Debian's postgresql" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2
	bindir=$(find_bindir)
fi

# Skip ports someone else holds (a cluster left running by an earlier run).
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
	port_busy "$port" || break
	port=$((port + 1))
done

dir=$(mktemp -d /tmp/wharf-pg.XXXXXX)
"${sudo[@]}" chown postgres "$dir"
# Runs a command as the postgres user (initdb refuses to run as root).
if [[ $(id -u) -eq 0 ]]; then
	as_pg="su postgres -s /bin/sh -c"
else
	as_pg="sudo su postgres -s /bin/sh -c"
fi
run_pg() { $as_pg "$(printf '%q ' "$@")"; }
run_pg "$bindir/initdb" -D "$dir/data" -A trust -U wharf >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: a test database that a crash may lose is fine and much faster.
run_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
	-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200" \
	start >&2 || { cat "$dir/log" >&2; exit 1; }

echo "export WHARF_TEST_POSTGRES_URL='postgres://wharf@127.0.0.1:$port/postgres?sslmode=disable'"
echo "wharf_stop_postgres() { $as_pg '$bindir/pg_ctl -D $dir/data -m fast stop' >/dev/null 2>&1; $as_pg 'rm -rf $dir' 2>/dev/null || true; }"

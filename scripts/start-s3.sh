#!/usr/bin/env bash
# start-s3.sh: start a throwaway S3-compatible server (versitygw, posix
# backend) on loopback for the s3blob conformance suite and the replica
# end-to-end tests, and print the lines that point them at it:
#
#   eval "$(scripts/start-s3.sh)"
#
# versitygw is not in Debian: it is built once with `go install` from the Go
# module proxy and cached under $HOME/.cache/wharf-test/versitygw-<version>.
# Prints `export WHARF_TEST_S3_*=...` and defines wharf_stop_s3 for an EXIT
# trap. Everything else goes to stderr.
set -euo pipefail

version=v1.8.0
port=${WHARF_TEST_S3_PORT:-57070}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/wharf-test
bindir=$cache/versitygw-$version
bin=$bindir/versitygw
if [[ ! -x $bin ]]; then
	echo "start-s3: building versitygw $version (cached in $bindir)" >&2
	mkdir -p "$bindir"
	# Outside the module, so wharf's go.mod is neither read nor touched.
	(cd / && GOBIN=$bindir GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$version") >&2
fi

# A port someone else holds (a server left running by an earlier run) would
# answer with other credentials: move on to a free one.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
	port_busy "$port" || break
	port=$((port + 1))
done

dir=$(mktemp -d /tmp/wharf-s3.XXXXXX)
mkdir -p "$dir/root/wharf-test"
access=wharftest
secret=wharftest-secret-$RANDOM$RANDOM
# The root of the posix backend holds one directory per bucket, so the
# bucket exists from the start.
ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret \
	nohup "$bin" --port "127.0.0.1:$port" --quiet posix "$dir/root" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		cat "$dir/log" >&2
		exit 1
	fi
	sleep 0.1
done
echo "start-s3: versitygw $version on 127.0.0.1:$port (pid $pid, data in $dir)" >&2
cat <<EOT
export WHARF_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export WHARF_TEST_S3_BUCKET=wharf-test
export WHARF_TEST_S3_ACCESS_KEY_ID=$access
export WHARF_TEST_S3_SECRET_ACCESS_KEY=$secret
wharf_stop_s3() { kill $pid 2>/dev/null || true; rm -rf '$dir'; }
EOT

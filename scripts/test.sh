#!/bin/sh
# `npm test`: install what the tests need, then run them with node:test.
#
#   npm test                                   the import rules, then every *.test.ts under test/
#   npm test -- test/cli/cli.test.ts           only these files (no import rules)
#   npm test -- --test-name-pattern=listeners  the import rules, then every file, tests matching the pattern
#                                              (use the = form)
#
# Tests live under test/, in folders mirroring src/ (test/config/ tests src/config/); STYLE.md puts unit
# tests beside the code, but most of them were under test/ already, and one place keeps src/ all product
# code. A run of every file first checks that no *.test.ts is left under src/ (it would never run) and
# then `npm run check:imports`: no
# import cycle in src/ and no import against the layering (.dependency-cruiser.mjs has the rules and why);
# either failing stops the run before any test.
#
# Needs: Debian's kcat, python3-confluent-kafka, python3-kafka, golang-go with sarama and kafka-go (client tests), chromium (console tests) and postgresql (the tests start their own
# throwaway PostgreSQL servers with its initdb/pg_ctl; installed with apt-get when missing, as root or
# through sudo), and node_modules (npm install when missing; s3rver, the S3 server the tests start, is in it). On a machine without apt-get the
# missing packages are reported and the client tests that need them fail.
#
# Files run FLOE_TEST_CONCURRENCY at a time (default 2, for the 2-core CI machines): every test broker
# listens on port 0 and keeps its data in its own temporary folder, and most of a test's time is spent
# waiting on commit intervals and sockets rather than on the CPU. A test that hangs fails after
# FLOE_TEST_TIMEOUT_MS (default 180000) instead of hanging CI.
set -eu

cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else return 1
  fi
}

missing=""
command -v kcat >/dev/null 2>&1 || missing="$missing kcat"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing="$missing python3-confluent-kafka"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing="$missing python3-kafka"   # kafka-python (test/clients/old-clients)
command -v go >/dev/null 2>&1 || missing="$missing golang-go"   # the Go clients are built offline in GOPATH mode
[ -d /usr/share/gocode/src/github.com/Shopify/sarama ] || missing="$missing golang-github-shopify-sarama-dev"
[ -d /usr/share/gocode/src/github.com/segmentio/kafka-go ] || missing="$missing golang-github-segmentio-kafka-go-dev"
[ -x /usr/bin/chromium ] || missing="$missing chromium"   # the console tests drive it with playwright-core
# What test/helpers/librdkafka.ts needs to build librdkafka 2.15 (KIP-848 client tests).
for h in openssl/ssl.h sasl/sasl.h zstd.h lz4.h zlib.h; do
  [ -f "/usr/include/$h" ] || missing="$missing libssl-dev libsasl2-dev libzstd-dev liblz4-dev zlib1g-dev"
done
command -v make >/dev/null 2>&1 && command -v gcc >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 || missing="$missing gcc g++ make pkg-config"
missing=$(for m in $missing; do echo " $m"; done | sort -u | tr -d '\n')
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! as_root apt-get install -y -q $missing >&2; then
      as_root apt-get update -q >&2
      # shellcheck disable=SC2086
      as_root apt-get install -y -q $missing >&2 || { echo "test.sh: could not install$missing" >&2; exit 1; }
    fi
  else
    echo "test.sh: warning: missing$missing and no apt-get; the client tests that need them will fail" >&2
  fi
fi

if [ ! -d node_modules ]; then
  echo "test.sh: node_modules is missing, running npm install" >&2
  npm install --no-audit --no-fund >&2
fi

# Arguments that are not options are the test files; otherwise run every test file.
# (On Node 20, `node --test DIR` finds no .ts file and passes; the list must be explicit.)
files=""
for a in "$@"; do
  case "$a" in -*) ;; *) files="$files $a" ;; esac
done
if [ -z "$files" ]; then
  stray=$(find src -name '*.test.ts' | sort)
  if [ -n "$stray" ]; then
    echo "test.sh: test files belong under test/, in the folder mirroring their src/ folder; npm test does not run these:" >&2
    echo "$stray" | sed 's/^/  /' >&2
    exit 1
  fi
  if ! npm run --silent check:imports; then
    echo "test.sh: import rules violated (listed above; each rule and its reason are in .dependency-cruiser.mjs): no test was run" >&2
    exit 1
  fi
  files=$(find test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
  if [ -z "$files" ]; then echo "test.sh: no *.test.ts files found under test/" >&2; exit 1; fi
  set -- "$@" $files
fi

# Client tests on a modern librdkafka (KIP-848) need it built once per clone (about 90 s, kept in
# .cache/): built here, before the per-file timeout starts. FLOE_TEST_LIBRDKAFKA_DIR names one built already.
# shellcheck disable=SC2086
if [ -z "${FLOE_TEST_LIBRDKAFKA_DIR:-}" ] && grep -l 'modernLibrdkafka' $files >/dev/null 2>&1; then
  node --import tsx test/helpers/librdkafka.ts >&2 || { echo "test.sh: could not build librdkafka 2.15 (test/helpers/librdkafka.ts)" >&2; exit 1; }
fi

# The old Go clients (sarama, kafka-go) are built once per clone too (one to two minutes cold, kept in
# .cache/go-clients), also before the per-file timeout starts.
# shellcheck disable=SC2086
if grep -l 'goClients' $files >/dev/null 2>&1; then
  node --import tsx test/helpers/go-clients.ts >&2 || { echo "test.sh: could not build the Go clients (test/helpers/go-clients.ts)" >&2; exit 1; }
fi

# TAP goes to stdout as before; a spec report goes to .cache/test-report.txt so that a failed run can end
# with its failures (CI shows only the end of a long log). Each failure is cut to its first lines there.
mkdir -p .cache
report=.cache/test-report.txt
status=0
# shellcheck disable=SC2068
node --import tsx --test \
  --test-concurrency="${FLOE_TEST_CONCURRENCY:-2}" \
  --test-timeout="${FLOE_TEST_TIMEOUT_MS:-180000}" \
  --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=spec --test-reporter-destination="$report" \
  "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "test.sh: the run failed (exit $status); its failures (whole report in $report):"
  awk '/failing tests:/ { on = 1; next }
       on && /^test at / { n = 0 }
       on && /\(node:/ { next }
       on && n++ < 14 { print }' "$report"
fi
exit "$status"

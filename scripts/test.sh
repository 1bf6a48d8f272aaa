#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints, and every test on SQLite and
# PostgreSQL. PostgreSQL comes from COUNTERSIGN_TEST_DATABASE_URL if set,
# else a server on 127.0.0.1:5432 (user postgres), else a throwaway cluster
# started here with initdb/pg_ctl; without any of those it stops and says
# what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

find_postgres
say "PostgreSQL for the tests: ${COUNTERSIGN_TEST_DATABASE_URL%%@*}@${COUNTERSIGN_TEST_DATABASE_URL#*@}"

if cargo nextest --version >/dev/null 2>&1; then
    say "cargo nextest run (SQLite and PostgreSQL)"
    cargo nextest run --locked --no-fail-fast
    say "doc tests"
    cargo test --locked --doc
else
    say "cargo test (SQLite and PostgreSQL)"
    cargo test --locked --no-fail-fast
fi

say "all checks passed"

#!/usr/bin/env bash
# Runs everything CI runs: the toolchain pins, formatting, lints, the API
# documentation, the dependency audit (scripts/audit.sh), the links of the
# Markdown documentation (scripts/check-docs.py), and every test on
# SQLite and PostgreSQL. PostgreSQL comes from COUNTERSIGN_TEST_DATABASE_URL
# if set, else a server on 127.0.0.1:5432 (user postgres), else a throwaway
# cluster started here with initdb/pg_ctl; without any of those it stops and
# says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
# shellcheck source=scripts/packages.sh
source scripts/packages.sh

say "toolchain: rust-toolchain.toml, Cargo.toml's rust-version, the Dockerfile and rustc agree"
check_toolchain() {
    local channel rust_version image rustc_release
    channel="$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)"
    rust_version="$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml)"
    image="$(sed -n 's/^FROM rust:\([^ ]*\)-bookworm AS build$/\1/p' Dockerfile)"
    rustc_release="$(rustc --version | cut -d' ' -f2)"
    if [[ -z "$channel" || "$channel" != "$image" || "$channel" != "$rustc_release" \
        || "${channel%.*}" != "$rust_version" ]]; then
        echo "The toolchain pins disagree: rust-toolchain.toml ${channel:-?}," \
            "Dockerfile rust:${image:-?}, Cargo.toml rust-version ${rust_version:-?}," \
            "rustc ${rustc_release:-?}" >&2
        exit 1
    fi
    echo "Rust $channel"
}
check_toolchain

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings (every feature; the verifier alone)"
cargo clippy --all-targets --all-features --locked -- -D warnings
# The verifier must build without the server, as a downstream service uses it.
cargo clippy --all-targets --no-default-features --features verifier-actix --locked -- -D warnings

say "cargo doc --no-deps --all-features (warnings denied)"
RUSTDOCFLAGS="${RUSTDOCFLAGS:+$RUSTDOCFLAGS }-D warnings" \
    cargo doc --no-deps --all-features --locked

say "dependency audit: cargo deny check (advisories, licences, bans, sources)"
scripts/audit.sh

say "documentation links (README, ARCHITECTURE, docs/)"
python3 scripts/check-docs.py

ensure_browser() {
    if [[ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
        if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
            say "installing Chromium for the browser tests"
            export DEBIAN_FRONTEND=noninteractive
            apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
                || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }
        else
            echo "The browser tests need Chromium: apt-get install chromium chromium-driver" >&2
            exit 1
        fi
    fi
    if ! command -v node >/dev/null 2>&1; then
        echo "The browser tests need Node.js (and npm) to run playwright-core" >&2
        exit 1
    fi
    # npm ci stamps node_modules/.package-lock.json: older than the lock
    # file (or missing) means the packages changed since the last install.
    if [[ ! tests/browser/node_modules/.package-lock.json -nt tests/browser/package-lock.json ]]; then
        say "installing the Node packages for the browser and client-library tests"
        (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

ensure_browser

# Authlib and PyJWT, pinned in tests/python/requirements.txt, in a virtual
# environment of their own (reinstalled when the pins change).
ensure_python_clients() {
    local venv=tests/python/.venv
    if [[ ! "$venv/installed" -nt tests/python/requirements.txt ]]; then
        say "installing the Python client libraries for the protocol tests"
        python3 -m venv "$venv" || {
            echo "The client-library tests need Python's venv: apt-get install python3-venv" >&2
            exit 1
        }
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
        touch "$venv/installed"
    fi
}
ensure_python_clients
# The deployment test checks the shipped load-balancer configuration with
# `nginx -t`, on a certificate openssl makes; it fails without them.
ensure_deploy_tools() {
    local tool
    for tool in nginx openssl; do
        ensure_command "$tool" "$tool" "for the deployment test (nginx -t of deploy/nginx.conf)" || {
            echo "Stopping: the deployment test cannot run without $tool." >&2
            exit 1
        }
    done
}
ensure_deploy_tools
find_postgres
say "PostgreSQL for the tests: ${COUNTERSIGN_TEST_DATABASE_URL%%@*}@${COUNTERSIGN_TEST_DATABASE_URL#*@}"

if cargo nextest --version >/dev/null 2>&1; then
    say "cargo nextest run (SQLite and PostgreSQL)"
    cargo nextest run --all-features --locked --no-fail-fast
    say "doc tests"
    cargo test --all-features --locked --doc
else
    say "cargo test (SQLite and PostgreSQL)"
    cargo test --all-features --locked --no-fail-fast
fi
say "schemathesis against /openapi.json (bounded)"
scripts/schemathesis.sh target/debug/countersign 10

say "all checks passed"

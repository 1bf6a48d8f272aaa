#!/usr/bin/env bash
# Audits every crate in Cargo.lock with cargo-deny and deny.toml: known
# vulnerabilities (and unmaintained, unsound or yanked crates), licences,
# banned crates and where crates come from. Fails on any finding.
#
# Advisories come from an offline snapshot of the RustSec advisory database,
# a git bundle: $RUSTSEC_ADVISORY_DB_BUNDLE when set, else a file named
# rustsec-advisory-db.bundle found at most three levels below the
# checkout's parent directory. Nothing is fetched: advisories published
# after the snapshot are not seen until the bundle is refreshed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The cargo-deny release deny.toml is written for; installed when missing.
CARGO_DENY_VERSION=0.20.2
BUNDLE_NAME=rustsec-advisory-db.bundle

say() { printf '\n==> %s\n' "$*"; }
fail() { printf '\n*** audit: %s\n' "$*" >&2; exit 1; }

# --- the advisory database snapshot -----------------------------------------
if [[ -n "${RUSTSEC_ADVISORY_DB_BUNDLE:-}" ]]; then
    bundle="$RUSTSEC_ADVISORY_DB_BUNDLE"
    [[ -f "$bundle" ]] || fail "RUSTSEC_ADVISORY_DB_BUNDLE names no file: $bundle"
else
    parent="$(cd .. && pwd)"
    bundle="$(find "$parent" -maxdepth 3 -name "$BUNDLE_NAME" -type f -print 2>/dev/null \
        | LC_ALL=C sort | head -n 1 || true)"
    [[ -n "$bundle" ]] || fail "no RustSec advisory database to audit against.
*** Provide a git bundle of it (git clone https://github.com/RustSec/advisory-db,
*** then git -C advisory-db bundle create $BUNDLE_NAME main) either as
*** RUSTSEC_ADVISORY_DB_BUNDLE=/path/to/$BUNDLE_NAME, or as a file named
*** $BUNDLE_NAME at most three levels below $parent."
fi

# --- cargo-deny -------------------------------------------------------------
installed="$(cargo deny --version 2>/dev/null || true)"
if [[ "$installed" != "cargo-deny $CARGO_DENY_VERSION" ]]; then
    say "installing cargo-deny $CARGO_DENY_VERSION${installed:+ (found $installed)}"
    cargo install --locked "cargo-deny@$CARGO_DENY_VERSION" \
        || fail "could not install cargo-deny: cargo install --locked cargo-deny@$CARGO_DENY_VERSION"
fi

# cargo-deny runs offline (that is what keeps it from fetching advisories),
# so every crate must already be here.
cargo fetch --locked --quiet

# deny.toml's db-path is this directory; cargo-deny looks for the database
# of each db-urls entry in a subdirectory whose name it derives from the
# URL. It says which when the database is missing, so it is asked.
dbs="$(mktemp -d -t countersign-advisory-dbs.XXXXXX)"
trap 'rm -rf "$dbs"' EXIT
export COUNTERSIGN_ADVISORY_DBS="$dbs"
db="$(cargo deny --log-level debug --color never --offline check advisories 2>&1 \
    | sed -n "s/.*Opening advisory database at '\(.*\)'.*/\1/p" | head -n 1 || true)"
[[ -n "$db" && "$db" == "$dbs"/* ]] \
    || fail "cargo-deny did not say where it looks for the advisory database under $dbs"

git -c init.defaultBranch=main clone --quiet --branch main "$bundle" "$db" \
    || fail "$bundle is not a git bundle of the advisory database (branch main)"
snapshot="$(git -C "$db" log -1 --format=%cs)"
age_days=$(( ($(date +%s) - $(git -C "$db" log -1 --format=%ct)) / 86400 ))
say "cargo deny check against the RustSec advisory database of $snapshot ($age_days days old)"
echo "Advisories published after $snapshot are not seen until $BUNDLE_NAME is refreshed."
if (( age_days > 90 )); then
    echo "WARNING: the advisory snapshot is more than 90 days old; refresh $BUNDLE_NAME." >&2
fi

# A fresh clone has no FETCH_HEAD, so cargo-deny's own staleness check
# (maximum-db-staleness) counts from the clone, not from the snapshot: the
# age above is the one that matters.
cargo deny --offline --color "${CARGO_TERM_COLOR:-auto}" \
    check advisories licenses bans sources

#!/usr/bin/env bash
# Runs schemathesis against /openapi.json of a server started here (SQLite
# in a temporary directory, an admin token for the protected operations),
# failing on any server error or any answer the document does not describe.
#
#   scripts/schemathesis.sh [BINARY] [EXAMPLES]
#
# BINARY defaults to target/debug/countersign (built if missing); EXAMPLES,
# the cases generated per operation, to 20 (scripts/test.sh runs 10).
# CHECKS overrides the checks (`CHECKS=all` adds schemathesis's guesses
# about which inputs should be accepted, which a token server's semantic
# refusals trip). Installs schemathesis with pip if it is not on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="${1:-target/debug/countersign}"
examples="${2:-20}"
[[ -x "$binary" ]] || cargo build --locked --bin countersign
if ! command -v st >/dev/null 2>&1; then
    # A Debian system Python refuses --user installs (PEP 668) unless told;
    # the package lands in the user's own site directory either way.
    python3 -m pip install --quiet --user 'schemathesis>=4,<5' 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages 'schemathesis>=4,<5' \
        || { echo "schemathesis is needed: pip install schemathesis" >&2; exit 1; }
    PATH="$(python3 -m site --user-base)/bin:$PATH"
fi

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
password="schemathesis-admin-password"
COUNTERSIGN_DATABASE__URL="sqlite://$work/countersign.db" \
COUNTERSIGN_SERVER__BIND="127.0.0.1:$port" \
COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD="$password" \
COUNTERSIGN_PASSWORD__MEMORY_KIB=1024 \
COUNTERSIGN_PASSWORD__ITERATIONS=1 \
COUNTERSIGN_THROTTLE__ACCOUNT_THRESHOLD=1000000 \
COUNTERSIGN_THROTTLE__ADDRESS_THRESHOLD=1000000 \
COUNTERSIGN_LOG__FORMAT=json \
    "$binary" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT

for _ in $(seq 100); do
    curl -fsS "$base/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

# A fresh administrator's token (with the admin scope) for each pass.
token() {
    curl -fsS "$base/v1/login" -H 'content-type: application/json' \
        -d "{\"username\": \"admin\", \"password\": \"$password\", \"scope\": \"admin\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# Operations that can end the caller's own credential run last, each in a
# pass of its own with a fresh token, so every other operation keeps a
# valid one: logging out, ending the caller's sessions, an emergency key
# rotation (retiring the key the token was signed with), and revoking,
# deleting or changing a user, which schemathesis aims at the administrator
# once it has seen the administrator's id. Changing a user comes last: it
# may change the administrator's password.
self_ending=('POST /v1/logout' 'POST /oauth2/revoke' 'DELETE /v1/sessions'
    'POST /v1/admin/keys/rotate' 'POST /v1/admin/users/{id}/revoke'
    'DELETE /v1/admin/users/{id}' 'PATCH /v1/admin/users/{id}')
run() {
    local bearer
    bearer="$(token)"
    st run "$base/openapi.json" \
        --header "Authorization: Bearer $bearer" \
        --checks "${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method,allow_header_conformance,ignored_auth,missing_required_header}" \
        --phases examples,coverage,fuzzing \
        --max-examples "$examples" \
        --workers 2 \
        --seed 1 \
        "$@"
}
any_self_ending="^($(IFS='|'; echo "${self_ending[*]}"))\$"
run --exclude-name-regex "$any_self_ending"
for operation in "${self_ending[@]}"; do
    run --include-name-regex "^$operation\$"
done

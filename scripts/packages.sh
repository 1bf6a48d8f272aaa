# Sourced by the scripts: installs a Debian package a script needs when it
# is missing and we can (root with apt-get); says so and fails otherwise,
# with apt-get's own error when the install was tried.

# ensure_command COMMAND PACKAGE [WHY]: succeeds once COMMAND runs.
ensure_command() {
    local command="$1" package="$2" why="${3:-}"
    command -v "$command" >/dev/null 2>&1 && return 0
    [[ -x "/usr/sbin/$command" ]] && return 0
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        printf '\n==> installing %s%s\n' "$package" "${why:+ $why}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "$package" >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq "$package" >/dev/null; } \
            && return 0
    fi
    echo "$command is missing: apt-get install $package${why:+ ($why)}" >&2
    return 1
}

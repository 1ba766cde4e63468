# Shared helpers for the scripts in this directory (sourced, not run).
log()  { printf '%s: %s\n' "$(basename "$0" .sh)" "$*"; }
warn() { printf '%s: WARNING: %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die()  { printf '%s: ERROR: %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }

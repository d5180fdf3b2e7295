#!/usr/bin/env bash
# Creates (once) the virtualenv the integration tests use and prints its path on stdout.
# The venv is keyed on requirements.txt + the Python version, so changing either builds a new one;
# it is built in a temp dir and renamed into place only after pip succeeded, so a failed or
# interrupted install is never mistaken for a good cache entry.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$root/test/python/requirements.txt"
py="${LAPIS_BASE_PYTHON:-python3}"
cache="${LAPIS_CACHE_DIR:-$HOME/.cache/lapis}"

key="$({ cat "$req"; "$py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-12)"
venv="$cache/test-venv-$key"

if [[ ! -x "$venv/bin/python" ]]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.building-$key-XXXXXX")"
  chmod 755 "$tmp" # mktemp makes it 0700; the venv should be usable like any installed one
  trap 'rm -rf "$tmp"' EXIT
  echo "python-test-env: building $venv (one-time, a few minutes)" >&2
  "$py" -m venv "$tmp"
  "$tmp/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  # Entry-point scripts (bin/pip, bin/moto_server, bin/activate…) embed the venv's absolute path;
  # point them at the final location before the rename makes the venv visible.
  grep -rlIF "$tmp" "$tmp/bin" | xargs -r sed -i "s|$tmp|$venv|g"
  # -T: if another run won the race, fail instead of moving our venv inside theirs; use theirs.
  mv -T "$tmp" "$venv" 2>/dev/null || [[ -x "$venv/bin/python" ]]
  echo "python-test-env: ready" >&2
fi

echo "$venv"

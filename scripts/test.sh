#!/usr/bin/env bash
# The full test command (`npm test`): provisions what the integration tests need, then build, lint, typecheck, tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "PostgreSQL server binaries"
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL server binaries are missing; install them with: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
fi

step "Chromium (the studio's end-to-end tests)"
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing; install it with: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi

# The venv build (minutes the first time, instant once cached) runs alongside build/lint/typecheck.
step "Python test env (in the background)"
venv_out="$(mktemp)"
trap 'rm -f "$venv_out"' EXIT
bash scripts/python-test-env.sh >"$venv_out" &
venv_pid=$!

step "npm run build";     npm run build --silent
step "npm run lint";      npm run lint --silent
step "npm run typecheck"; npm run typecheck --silent

step "Python test env"
wait "$venv_pid"
LAPIS_TEST_PYTHON="$(cat "$venv_out")/bin/python"
export LAPIS_TEST_PYTHON

step "python task runner (unit + protocol-stub tests)"
"$LAPIS_TEST_PYTHON" -m unittest discover -s python/tests -t python

step "vitest (unit + integration)"
npx vitest run

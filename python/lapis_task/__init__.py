"""Lapis task runner: runs one job for any executor, talking to the server over HTTP.

The contract is docs/task-protocol.md. Standard library only, Python 3.9+: it runs before any
environment exists. Executors start it with

    python3 -I -S <lapis>/python/lapis_task/__main__.py

and the job's LAPIS_* variables. Use that form: `-I` (isolated mode) ignores PYTHONPATH and never
puts the current folder on sys.path, so `python3 -I -S -m lapis_task` cannot find the package at
all; the module form works only without `-I`: `PYTHONPATH=<lapis>/python python3 -S -m lapis_task`.
`-S` skips site-packages, which keeps start-up near 0.1 s and the host's packages out of the way.

Exit status: 0 once a result was reported (whatever the job's outcome), 3 when the server said the
job or this attempt is gone (404/409), 2 for missing LAPIS_* variables, 1 when the server could not
be reached to report.
"""

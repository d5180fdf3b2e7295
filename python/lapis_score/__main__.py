"""Entry point; see the package docstring for how the server starts it."""
import os
import sys

if not __package__:
    # Run as a script: import the package from its parent folder, and keep this folder off sys.path
    # so that none of its modules (server, script, payloads...) shadows one the deployment's code imports.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    sys.path.insert(0, os.path.dirname(_here))

from lapis_score.main import main  # noqa: E402

_code = main()
sys.stdout.flush()
sys.stderr.flush()
# Not sys.exit: a thread that score.py started and never stops must not keep a stopped host alive.
os._exit(_code)

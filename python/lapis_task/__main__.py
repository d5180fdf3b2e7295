"""Entry point; see the package docstring for how executors start it."""
import os
import sys

if not __package__:
    # Run as a script (the `python3 -I -S .../__main__.py` form): import the package from its
    # parent folder, and keep this folder off sys.path so no module here shadows a standard one.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    sys.path.insert(0, os.path.dirname(_here))

from lapis_task.main import main  # noqa: E402

sys.exit(main())

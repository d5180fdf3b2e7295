"""Entry point; see the package docstring for how the server runs it."""
import os
import sys

if not __package__:
    # Run as a script: import the packages from the driver's folder, and keep this folder off sys.path
    # so that none of its modules shadows one the scoring code imports.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    sys.path.insert(0, os.path.dirname(_here))

from lapis_batch.driver import main  # noqa: E402

sys.exit(main())

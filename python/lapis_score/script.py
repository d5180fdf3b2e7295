"""A deployment's scoring script, with Azure ML's contract: init() once, then run(raw_data) per request
with the body as text. Neither numpy nor pandas is imported here: values of theirs that run() returns
are converted through their own methods."""
import importlib.util
import json
import os
import sys

from .errors import BadRequest


class ScoringScript:
    def __init__(self, path, code_dir):
        self.path = path
        self.code_dir = code_dir
        self._run = None

    def describe(self):
        return 'scoring script %s' % self.path

    def initialize(self):
        os.chdir(self.code_dir)
        sys.path.insert(0, self.code_dir)
        if not os.path.isfile(self.path):
            raise RuntimeError('The scoring script %s does not exist: check code_configuration.scoring_script, a path '
                               'inside the deployment\'s code folder.' % self.path)
        name = os.path.splitext(os.path.basename(self.path))[0]
        spec = importlib.util.spec_from_file_location(name, self.path)
        if spec is None:
            raise RuntimeError('The scoring script %s is not a Python file: name a .py file in '
                               'code_configuration.scoring_script.' % self.path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as an import would: `import score` and pickles naming it find this module
        spec.loader.exec_module(module)
        run = getattr(module, 'run', None)
        if not callable(run):
            raise RuntimeError('The scoring script %s defines no run(raw_data) function: a scoring script defines '
                               'init(), called once at start-up, and run(raw_data), called per request.' % self.path)
        init = getattr(module, 'init', None)
        if callable(init):
            init()
        self._run = run

    def score(self, raw):
        try:
            text = raw.decode('utf-8')
        except UnicodeDecodeError as e:
            raise BadRequest('The body is not UTF-8 text (%s): run() receives the body as text; send it UTF-8 encoded '
                             '(JSON, for instance).' % e) from None
        return to_body(self.run(text))

    def run(self, value):
        """The script's run() on a value as is: a request's text here, a mini-batch for batch scoring."""
        return self._run(value)


def to_body(value):
    """The answer's bytes: a str or bytes as is, anything else as JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode('utf-8')
    try:
        return json.dumps(value, default=_jsonable).encode('utf-8')
    except (TypeError, ValueError) as e:
        raise TypeError('run() returned a value that cannot be sent as JSON (%s): return a str, bytes, or JSON-like '
                        'data (dict, list, str, numbers, numpy arrays, pandas objects).' % e) from None


def _jsonable(value):
    if hasattr(value, 'to_dict') and hasattr(value, 'columns'):  # a pandas DataFrame
        return value.to_dict(orient='records')
    if hasattr(value, 'tolist'):  # numpy arrays and scalars, pandas Series and Index
        return value.tolist()
    raise TypeError('%s is not JSON serializable' % type(value).__name__)

"""No-code deployment of an MLflow model: load it, read bodies as MLflow's scoring server does, predict.

mlflow (and with it pandas and numpy) is imported when the model loads, not before: the host
listens first, and a score.py deployment never needs it.
"""
import inspect
import json
import os
import traceback

from . import payloads
from .errors import BadRequest
from .log import log

# MLflow's error codes for a request that does not fit the model (its scoring server answers 400).
_CLIENT_CODES = ('INVALID_PARAMETER_VALUE', 'BAD_REQUEST')
# What pandas, numpy or the model raise for values they cannot use: the input's fault, not the model's.
_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError)


class MlflowModel:
    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.model = None
        self.schema = None
        self.columns = None  # the column signature's names: an Azure ML tensor becomes a DataFrame of them
        self.expect = ('The model has no signature, so nothing checks inputs before predict(): send what the model '
                       'itself expects.')
        self._parse_json = None
        self._takes_params = False

    def describe(self):
        return 'MLflow model %s (no scoring script)' % self.model_dir

    def initialize(self):
        if not os.path.isfile(os.path.join(self.model_dir, 'MLmodel')):
            raise RuntimeError('%s holds no MLmodel file, so it is not an MLflow model. A deployment without a scoring '
                               'script serves an MLflow model (a model of type mlflow_model): register it as one, or give '
                               'the deployment code_configuration with a scoring_script.' % self.model_dir)
        try:
            import mlflow.pyfunc
        except ImportError as e:
            raise RuntimeError('mlflow cannot be imported in the deployment\'s environment (%s): a no-code MLflow '
                               'deployment needs it. Add mlflow (or mlflow-skinny) to the environment\'s pip '
                               'requirements.' % e) from None
        try:
            from mlflow.pyfunc import scoring_server
            self._parse_json = getattr(scoring_server, '_parse_json_data', None)
        except ImportError:  # mlflow-skinny 2.x: its scoring server imports flask, which skinny lacks
            pass
        self.model = mlflow.pyfunc.load_model(self.model_dir)
        self._takes_params = 'params' in inspect.signature(self.model.predict).parameters
        self.schema = self.model.metadata.get_input_schema()
        if self.schema is not None:
            self.expect = 'Check the input against the model\'s signature inputs: %s.' % self.schema
            if not self.schema.is_tensor_spec() and self.schema.has_input_names():
                self.columns = self.schema.input_names()
        log('MLflow model loaded with mlflow %s; signature inputs: %s'
            % (mlflow.__version__, 'none' if self.schema is None else self.schema))

    def score(self, raw):
        from mlflow.exceptions import MlflowException
        from mlflow.utils.proto_json_utils import NumpyEncoder, _get_jsonable_obj

        body = payloads.decode(raw)
        azure = payloads.is_azure(body)
        if azure:
            body = payloads.from_azure(body, self.columns)
        fmt = payloads.mlflow_format(body)
        parsed = False
        try:
            data, params, unwrapped = self._parse(body, fmt)
            parsed = True
            prediction = self._predict(data, params)
        except MlflowException as e:
            if getattr(e, 'error_code', None) not in _CLIENT_CODES:
                raise
            if not parsed and fmt is None:
                raise BadRequest(payloads.unknown_shape(body)) from None
            raise BadRequest(e.message) from None
        except _INPUT_ERRORS as e:
            if parsed:  # the model's own code raised: its traceback tells a bad input from a bug
                log('predict() raised:\n%s' % traceback.format_exc())
            raise BadRequest('%s: %s: %s. %s'
                             % ('The model could not score the input' if parsed else 'The body could not be converted to '
                                'the model\'s input', type(e).__name__, str(e).rstrip('.'), self.expect)) from None
        result = _get_jsonable_obj(prediction, pandas_orient='records')
        # Azure ML answers with the predictions themselves, MLflow's scoring server wraps them.
        answer = result if azure or unwrapped else {'predictions': result}
        return json.dumps(answer, cls=NumpyEncoder).encode('utf-8')

    def _parse(self, body, fmt):
        """(data, params, whether the answer is unwrapped), as MLflow's /invocations reads a JSON body."""
        if self._parse_json:
            parsed = self._parse_json(body, self.model.metadata, self.schema)
            return parsed.data, parsed.params, parsed.is_unified_llm_input
        # Older MLflow (no _parse_json_data), or mlflow-skinny 2.x without its scoring server: that
        # server's dispatch over the same converters.
        from mlflow.utils.proto_json_utils import dataframe_from_parsed_json, parse_tf_serving_input

        if fmt is None:
            raise BadRequest(payloads.unknown_shape(body))
        if fmt in ('instances', 'inputs'):
            data = parse_tf_serving_input({fmt: body[fmt]}, schema=self.schema)
        else:
            data = dataframe_from_parsed_json(body[fmt], pandas_orient=fmt[len('dataframe_'):], schema=self.schema)
        return data, body.get(payloads.PARAMS_KEY), False

    def predict(self, data):
        """predict() on data the caller has already read (batch scoring's DataFrames)."""
        return self._predict(data, None)

    def _predict(self, data, params):
        if self._takes_params:
            return self.model.predict(data, params=params)
        if params:
            log('"params" ignored: this mlflow\'s predict() takes none (params need mlflow 2.6 or later)')
        return self.model.predict(data)

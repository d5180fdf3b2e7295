"""Request bodies of a no-code MLflow deployment: Azure ML's `input_data` shapes rewritten as the
MLflow scoring server's, so that MLflow's own parser reads both (standard library only)."""
import json

from .errors import BadRequest

AZURE_KEY = 'input_data'
PARAMS_KEY = 'params'
MLFLOW_FORMATS = ('dataframe_split', 'dataframe_records', 'instances', 'inputs')
SHAPES = ('Send a JSON object: Azure ML\'s {"input_data": ...} holding a DataFrame {"columns": [...], "index": [...], '
          '"data": [[...]]}, a tensor [[...]] or named tensors {"<name>": [[...]]}; or MLflow\'s, with exactly one of '
          '"dataframe_split", "dataframe_records", "instances" or "inputs". Either may add "params": {...}.')
_SPLIT_KEYS = {'columns', 'index', 'data'}


def decode(raw):
    """The JSON value of a request body (bytes)."""
    try:
        return json.loads(raw)
    except ValueError as e:  # JSONDecodeError, and UnicodeDecodeError for bytes that are no text at all
        raise BadRequest('The body is not JSON (%s). %s' % (e, SHAPES)) from None


def is_azure(body):
    return isinstance(body, dict) and AZURE_KEY in body


def from_azure(body, columns):
    """The MLflow-shaped equivalent of an Azure ML body. `columns` are the names of the model's column
    signature (None for a tensor signature or none): with them a bare tensor becomes a DataFrame."""
    extra = sorted(set(body) - {AZURE_KEY, PARAMS_KEY})
    if extra:
        raise BadRequest('The body has %s next to "input_data", which only "params" may accompany. %s'
                         % (', '.join(json.dumps(k) for k in extra), SHAPES))
    data = body[AZURE_KEY]
    out = {PARAMS_KEY: body[PARAMS_KEY]} if PARAMS_KEY in body else {}
    if isinstance(data, list):
        if columns:
            out['dataframe_split'] = {'columns': list(columns), 'data': _rows(data, columns)}
        else:
            out['inputs'] = data
    elif isinstance(data, dict) and 'columns' in data and set(data) <= _SPLIT_KEYS:
        out['dataframe_split'] = data
    elif isinstance(data, dict) and data:
        out['inputs'] = data
    else:
        raise BadRequest('"input_data" is %s. %s' % (_describe(data), SHAPES))
    return out


def mlflow_format(body):
    """The MLflow format key of a body, or None when it has none (MLflow's chat-style bodies, which only
    MLflow's parser can tell from a mistake)."""
    if not isinstance(body, dict):
        raise BadRequest('The body is %s, not a JSON object. %s' % (_describe(body), SHAPES))
    found = [k for k in MLFLOW_FORMATS if k in body]
    if len(found) > 1:
        raise BadRequest('The body has %s: send only one of them. %s' % (' and '.join(json.dumps(k) for k in found), SHAPES))
    return found[0] if found else None


def unknown_shape(body):
    """The message for an object with none of the known fields."""
    fields = ', '.join(json.dumps(k) for k in sorted(body)) or 'no fields'
    return 'The body has %s, none of which this deployment reads. %s' % (fields, SHAPES)


def _rows(data, columns):
    """A tensor's rows checked against the signature's columns; with one column, bare values are rows."""
    rows = []
    for i, row in enumerate(data):
        if not isinstance(row, list):
            if len(columns) != 1:
                raise BadRequest('"input_data"[%d] is %s, not a row of values. Send a list of rows, each with one value '
                                 'per column of the model\'s signature in this order: %s.'
                                 % (i, _describe(row), ', '.join(columns)))
            row = [row]
        if len(row) != len(columns):
            raise BadRequest('"input_data"[%d] has %s but the model\'s signature has %s: %s. Send one value per column '
                             'in that order, or name the columns with {"input_data": {"columns": [...], "index": [...], '
                             '"data": [[...]]}}.' % (i, _count(len(row), 'value'), _count(len(columns), 'column'),
                                                     ', '.join(columns)))
        rows.append(row)
    return rows


def _count(n, noun):
    return '%d %s%s' % (n, noun, '' if n == 1 else 's')


def _describe(value):
    if isinstance(value, dict):
        return 'an empty object' if not value else 'an object'
    return {list: 'a list', str: 'a string', bool: 'a boolean', type(None): 'null'}.get(type(value), 'a number')

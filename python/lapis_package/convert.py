"""Packages a scikit-learn MLflow model as an ONNX MLflow model (the job `lapis model package` submits).

Runs in the model's own environment (its requirements plus skl2onnx, onnx and onnxruntime):

    python convert.py --model <MLflow model folder> --out <empty folder> [--tolerance 1e-4] [--source azureml:m:1]

The ONNX graph takes one tensor `input` [rows, features] (float64 when skl2onnx can convert the model
in double precision, else float32) and has one output: what the estimator's predict() returns (a
classifier's labels, a regressor's values). Before anything is written the ONNX model is run with
onnxruntime on sample data (the model's input example, else rows generated from its signature) and
compared with the original's predict() (and predict_proba(), for classifiers); a difference beyond
the tolerance stops the job. The result is saved with mlflow.onnx.save_model, keeping the signature
and the input example, so `mlflow.pyfunc.load_model` loads it too.

Exit codes: 0 packaged; 2 the model cannot be packaged (the message says why); 1 anything else.
"""
import argparse
import json
import os
import sys

NUMERIC = ('double', 'float', 'long', 'integer', 'boolean')
SAMPLE_ROWS = 200


class Refused(Exception):
    """The model cannot be packaged; the message tells the user why and what to do."""


def say(msg):
    print('[package] %s' % msg, flush=True)


def features(signature, example):
    """(column names or None, number of features) from the signature, else from the input example."""
    if signature is not None:
        schema = signature.inputs
        if schema.is_tensor_spec():
            spec = schema.inputs[0] if len(schema.inputs) == 1 else None
            shape = tuple(spec.shape) if spec is not None else ()
            if spec is None or len(shape) != 2 or shape[1] < 1 or spec.type.kind not in 'fiub':
                raise Refused('The signature has tensor inputs %s; packaging needs one numeric tensor of shape (-1, '
                              'features).' % schema)
            return None, shape[1]
        bad = [c for c in schema.inputs if c.type.name not in NUMERIC]
        if bad:
            raise Refused('ONNX packaging supports numeric columns only; the signature has %s. Package a model whose '
                          'inputs are numbers (encode categories inside a numeric pipeline), or deploy it as is.'
                          % ', '.join('%s (%s)' % (c.name, c.type.name) for c in bad))
        return [c.name for c in schema.inputs], len(schema.inputs)
    import pandas as pd
    if isinstance(example, pd.DataFrame):
        return list(example.columns), example.shape[1]
    import numpy as np
    arr = np.asarray(example)
    if arr.ndim != 2:
        raise Refused('The input example has shape %s; packaging needs rows of features (2 dimensions).' % (arr.shape,))
    return None, arr.shape[1]


def sample(columns, n, example, signature):
    """Rows to check the ONNX model on: the input example, else generated from the signature."""
    import numpy as np
    if example is not None:
        rows = np.asarray(example.values if hasattr(example, 'values') else example, dtype=np.float64)
        say('checking on the model\'s input example (%d row%s)' % (rows.shape[0], '' if rows.shape[0] == 1 else 's'))
        return rows
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(SAMPLE_ROWS, n))
    if columns is not None:
        for j, col in enumerate(signature.inputs.inputs):
            if col.type.name in ('long', 'integer'):
                rows[:, j] = rng.integers(0, 10, SAMPLE_ROWS)
            elif col.type.name == 'boolean':
                rows[:, j] = rng.integers(0, 2, SAMPLE_ROWS)
    say('the model has no input example: checking on %d rows generated from its signature' % SAMPLE_ROWS)
    return rows


def to_onnx(model, n):
    """(onnx model, dtype name): float64 when skl2onnx can, float32 otherwise."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    options = {'zipmap': False} if hasattr(model, 'predict_proba') else None
    first = None
    for name, kind in (('float64', DoubleTensorType), ('float32', FloatTensorType)):
        try:
            return convert_sklearn(model, initial_types=[('input', kind([None, n]))], options=options), name
        except Exception as e:  # skl2onnx raises many types: missing converters, shape calculators, dtypes
            first = first or e
            say('skl2onnx cannot convert it in %s: %s: %s' % (name, type(e).__name__, e))
    raise Refused('skl2onnx cannot convert %s: %s. Only estimators skl2onnx supports can be packaged '
                  '(https://onnx.ai/sklearn-onnx/supported.html).' % (type(model).__name__, first))


def prediction_only(onnx_model):
    """The graph with one output, the labels or values predict() returns: MLflow's ONNX pyfunc turns
    every output into a column, which a (rows, classes) probability matrix cannot be."""
    outputs = list(onnx_model.graph.output)
    keep = outputs[0]
    while len(onnx_model.graph.output) > 1:
        onnx_model.graph.output.pop()
    onnx_model.graph.output[0].CopyFrom(keep)
    return onnx_model


def compare(model, onnx_model, rows, dtype, columns):
    """The largest absolute difference between the original and the ONNX model on `rows`."""
    import numpy as np
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    results = session.run(None, {'input': rows.astype(dtype)})
    frame = rows if columns is None else __import__('pandas').DataFrame(rows, columns=columns)  # as it was fitted
    expected = np.asarray(model.predict(frame))
    got = np.asarray(results[0]).reshape(expected.shape)
    if expected.dtype.kind in 'fiub':
        diff = float(np.max(np.abs(expected.astype(np.float64) - got.astype(np.float64)))) if expected.size else 0.0
    else:
        diff = float(np.count_nonzero(expected != got))
    say('predict(): max abs difference %.3g over %d rows (output %r)' % (diff, len(rows), names[0]))
    if hasattr(model, 'predict_proba') and len(results) > 1:
        p = float(np.max(np.abs(np.asarray(model.predict_proba(frame), dtype=np.float64) - np.asarray(results[1], dtype=np.float64))))
        say('predict_proba(): max abs difference %.3g (output %r)' % (p, names[1]))
        diff = max(diff, p)
    return diff


def package(args):
    import mlflow
    from mlflow.models import Model

    meta = Model.load(os.path.join(args.model, 'MLmodel'))
    if 'sklearn' not in meta.flavors:
        raise Refused('The model has flavors %s, not sklearn: only scikit-learn MLflow models are packaged as ONNX.'
                      % ', '.join(sorted(meta.flavors)))
    example = meta.load_input_example(args.model)
    if meta.signature is None and example is None:
        raise Refused('The model has neither a signature nor an input example, so its inputs are unknown. Log it '
                      'again with signature=infer_signature(X, model.predict(X)) or input_example=X[:5].')
    columns, n = features(meta.signature, example)
    say('source: %s, %d feature%s%s' % (args.source, n, '' if n == 1 else 's', ' (%s)' % ', '.join(columns) if columns else ''))
    model = mlflow.sklearn.load_model(args.model)
    say('loaded %s with scikit-learn %s' % (type(model).__name__, __import__('sklearn').__version__))
    import skl2onnx
    import onnxruntime
    full, dtype = to_onnx(model, n)
    say('converted with skl2onnx %s (%s input, opset %s)' % (skl2onnx.__version__, dtype, ', '.join(
        '%s %d' % (o.domain or 'ai.onnx', o.version) for o in full.opset_import)))
    rows = sample(columns, n, example, meta.signature)
    diff = compare(model, full, rows, dtype, columns)
    if diff > args.tolerance:
        raise Refused('The ONNX model differs from the original by up to %.3g on the sample data, beyond the tolerance '
                      '%.3g: not registered. Raise --tolerance if that difference is acceptable.' % (diff, args.tolerance))
    say('within the tolerance %.3g (onnxruntime %s)' % (args.tolerance, onnxruntime.__version__))
    onnx_model = prediction_only(full)
    mlflow.onnx.save_model(
        onnx_model, args.out, signature=meta.signature, input_example=example, save_as_external_data=False, onnx_execution_providers=['CPUExecutionProvider'],
        metadata={'lapis': {'source': args.source, 'input': 'input', 'dtype': dtype, 'columns': columns,
                            'features': n, 'max_abs_diff': diff, 'tolerance': args.tolerance}},
    )
    # The promise of the format: the package loads and predicts with MLflow alone.
    loaded = mlflow.pyfunc.load_model(args.out)
    loaded.predict(example if example is not None else rows[:2] if columns is None else __import__('pandas').DataFrame(rows[:2], columns=columns))
    say('saved as an MLflow model with the onnx flavor; mlflow.pyfunc.load_model loads it')
    _log_run(args, diff, dtype)


def _log_run(args, diff, dtype):
    """The job's run records what was checked (MLFLOW_RUN_ID is the job's run)."""
    run_id = os.environ.get('MLFLOW_RUN_ID')
    if not run_id:
        return
    from mlflow.tracking import MlflowClient
    client = MlflowClient()
    client.log_metric(run_id, 'max_abs_diff', diff)
    for key, value in (('source_model', args.source), ('target', 'onnx'), ('tolerance', args.tolerance), ('input_dtype', dtype)):
        client.log_param(run_id, key, value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--tolerance', type=float, default=1e-4)
    parser.add_argument('--source', default='the model')
    args = parser.parse_args(argv)
    try:
        package(args)
    except Refused as e:
        print('[package] not packaged: %s' % e, file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())

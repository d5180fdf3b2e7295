"""Packages a scikit-learn MLflow model as an ONNX MLflow model (the job `lapis model package` submits).

Runs in the model's own environment (its requirements plus skl2onnx, onnx and onnxruntime):

    python convert.py --model <MLflow model folder> --out <empty folder> [--tolerance 1e-4] [--source azureml:m:1]

The ONNX graph has one output, what the estimator's predict() returns (a classifier's labels, a
regressor's values), and one of two input layouts:
- numeric columns or a tensor: one tensor `input` [rows, features] (float64 when skl2onnx can
  convert the model in double precision and ONNX Runtime can run it, else float32);
- a signature with text columns (a pipeline that encodes them, e.g. a ColumnTransformer with a
  OneHotEncoder): one 1-D input per column, named as the column (string, int64, or float64/float32).
  MLflow's ONNX loader cannot feed pandas string columns, so such a model's python_function loader
  is onnx_columns.py, shipped in its code/ folder. Before anything is written the ONNX model is run with
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
# The column types of the one-input-per-column layout.
COLUMN_TYPES = ('string', 'double', 'float', 'long', 'integer')
SAMPLE_ROWS = 200
SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'onnx_columns.py')


class Refused(Exception):
    """The model cannot be packaged; the message tells the user why and what to do."""


def say(msg):
    print('[package] %s' % msg, flush=True)


def features(signature, example):
    """(column names or None, number of features, column types when the model takes one input per column, else None)."""
    if signature is not None:
        schema = signature.inputs
        if schema.is_tensor_spec():
            spec = schema.inputs[0] if len(schema.inputs) == 1 else None
            shape = tuple(spec.shape) if spec is not None else ()
            if spec is None or len(shape) != 2 or shape[1] < 1 or spec.type.kind not in 'fiub':
                raise Refused('The signature has tensor inputs %s; packaging needs one numeric tensor of shape (-1, '
                              'features).' % schema)
            return None, shape[1], None
        names = [c.name for c in schema.inputs]
        types = [c.type.name for c in schema.inputs]
        if all(t in NUMERIC for t in types):
            return names, len(names), None
        bad = ['%s (%s)' % (c, t) for c, t in zip(names, types) if t not in COLUMN_TYPES]
        if bad:
            raise Refused('ONNX packaging takes columns of text and numbers (string, double, float, long, integer) '
                          'or numbers and booleans only; the signature has %s. Cast those columns in the model\'s '
                          'pipeline, or deploy it as is.' % ', '.join(bad))
        if example is None:
            raise Refused('The model has text columns and no input example: with text columns the ONNX model is '
                          'checked on the input example. Log it again with input_example=X[:20].')
        return names, len(names), types
    import pandas as pd
    if isinstance(example, pd.DataFrame):
        text = [c for c in example.columns if not pd.api.types.is_numeric_dtype(example[c])]
        if text:
            raise Refused('The input example has non-numeric columns (%s) and the model has no signature. Log it again '
                          'with signature=infer_signature(X, model.predict(X)).' % ', '.join(map(str, text)))
        return list(example.columns), example.shape[1], None
    import numpy as np
    arr = np.asarray(example)
    if arr.ndim != 2:
        raise Refused('The input example has shape %s; packaging needs rows of features (2 dimensions).' % (arr.shape,))
    return None, arr.shape[1], None


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


def conversions(model, columns, n, types):
    """(onnx model, float dtype name) for float64, then float32: skl2onnx converts some models in double
    precision into graphs ONNX Runtime cannot run (float and double mixed in one node), so each
    conversion is checked by running it."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType, StringTensorType
    options = {'zipmap': False} if hasattr(model, 'predict_proba') else None
    for name, kind in (('float64', DoubleTensorType), ('float32', FloatTensorType)):
        if types is None:
            initial = [('input', kind([None, n]))]
        else:
            column_kind = {'string': StringTensorType, 'long': Int64TensorType, 'integer': Int64TensorType}
            initial = [(c, column_kind.get(t, kind)([None, 1])) for c, t in zip(columns, types)]
        try:
            converted = convert_sklearn(model, initial_types=initial, options=options)
        except Exception as e:  # skl2onnx raises many types: missing converters, shape calculators, dtypes
            yield None, name, e
            continue
        yield (converted if types is None else one_dimensional(converted)), name, None


def one_dimensional(onnx_model):
    """Each [rows, 1] column input fed from a 1-D input of the same name: a column is a 1-D array to
    MLflow, pandas and the Lapis runtime alike."""
    from onnx import helper, numpy_helper
    import numpy as np
    graph = onnx_model.graph
    graph.initializer.append(numpy_helper.from_array(np.array([-1, 1], dtype=np.int64), name='lapis_column_shape'))
    reshapes, flat = [], []
    for inp in graph.input:
        inner = inp.name + '__column'
        for node in graph.node:
            node.input[:] = [inner if x == inp.name else x for x in node.input]
        reshapes.append(helper.make_node('Reshape', [inp.name, 'lapis_column_shape'], [inner], name='lapis_reshape_' + inp.name))
        flat.append(helper.make_tensor_value_info(inp.name, inp.type.tensor_type.elem_type, [None]))
    del graph.input[:]
    graph.input.extend(flat)
    old = list(graph.node)
    del graph.node[:]
    graph.node.extend(reshapes + old)
    return onnx_model


def prediction_only(onnx_model):
    """The graph with one output, the labels or values predict() returns: MLflow's ONNX pyfunc turns
    every output into a column, which a (rows, classes) probability matrix cannot be."""
    outputs = list(onnx_model.graph.output)
    keep = outputs[0]
    while len(onnx_model.graph.output) > 1:
        onnx_model.graph.output.pop()
    onnx_model.graph.output[0].CopyFrom(keep)
    return onnx_model


def compare(model, onnx_model, sample, dtype, columns, types):
    """The largest absolute difference between the original and the ONNX model on the sample rows."""
    import numpy as np
    import onnxruntime as ort
    import pandas as pd
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    if types is None:
        feed = {'input': sample.astype(dtype)}
        frame = sample if columns is None else pd.DataFrame(sample, columns=columns)  # as it was fitted
    else:
        arrays = {'string': object, 'long': np.int64, 'integer': np.int64}
        feed = {c: sample[c].to_numpy(dtype=arrays.get(t, dtype)) for c, t in zip(columns, types)}
        frame = sample
    results = session.run(None, feed)
    expected = np.asarray(model.predict(frame))
    got = np.asarray(results[0]).reshape(expected.shape)
    if expected.dtype.kind in 'fiub':
        diff = float(np.max(np.abs(expected.astype(np.float64) - got.astype(np.float64)))) if expected.size else 0.0
    else:
        diff = float(np.count_nonzero(expected != got))
    say('predict(): max abs difference %.3g over %d rows (output %r)' % (diff, len(sample), names[0]))
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
    columns, n, types = features(meta.signature, example)
    layout = 'tensor' if types is None else 'columns'
    say('source: %s, %d feature%s%s' % (args.source, n, '' if n == 1 else 's', ' (%s)' % ', '.join(
        c if t is None else '%s: %s' % (c, t) for c, t in zip(columns, types or [None] * n)) if columns else ''))
    model = mlflow.sklearn.load_model(args.model)
    say('loaded %s with scikit-learn %s' % (type(model).__name__, __import__('sklearn').__version__))
    import skl2onnx
    import onnxruntime
    if types is None:
        sample_rows = sample(columns, n, example, meta.signature)
    else:
        sample_rows = example
        say('one input per column (text columns); checking on the model\'s input example (%d rows)' % len(example))
    first, diff, full, dtype = None, None, None, None
    for full, dtype, error in conversions(model, columns, n, types):
        if error is None:
            say('converted with skl2onnx %s (%s, opset %s)' % (skl2onnx.__version__, dtype, ', '.join(
                '%s %d' % (o.domain or 'ai.onnx', o.version) for o in full.opset_import)))
            try:
                diff = compare(model, full, sample_rows, dtype, columns, types)
                break
            except Exception as e:  # onnxruntime refuses the graph, or cannot run it on these rows
                error = e
        first = first or error
        say('the %s conversion does not work: %s: %s' % (dtype, type(error).__name__, error))
    else:
        raise Refused('skl2onnx cannot convert %s into a model ONNX Runtime runs: %s. Only estimators skl2onnx '
                      'supports can be packaged (https://onnx.ai/sklearn-onnx/supported.html).' % (type(model).__name__, first))
    if diff > args.tolerance:
        raise Refused('The ONNX model differs from the original by up to %.3g on the sample data, beyond the tolerance '
                      '%.3g: not registered. Raise --tolerance if that difference is acceptable.' % (diff, args.tolerance))
    say('within the tolerance %.3g (onnxruntime %s)' % (args.tolerance, onnxruntime.__version__))
    onnx_model = prediction_only(full)
    mlflow.onnx.save_model(
        onnx_model, args.out, signature=meta.signature, input_example=example, save_as_external_data=False, onnx_execution_providers=['CPUExecutionProvider'],
        # MLflow infers requirements by predicting with its own ONNX loader, which fails on text columns:
        # name them instead (its defaults for ONNX models; the loader needs nothing more).
        code_paths=[SHIM] if layout == 'columns' else None,
        pip_requirements=mlflow.onnx.get_default_pip_requirements() if layout == 'columns' else None,
        metadata={'lapis': {'source': args.source, 'layout': layout, 'input': 'input' if layout == 'tensor' else None, 'dtype': dtype,
                            'columns': columns, 'features': n, 'max_abs_diff': diff, 'tolerance': args.tolerance}},
    )
    if layout == 'columns':
        saved = Model.load(os.path.join(args.out, 'MLmodel'))
        saved.flavors['python_function']['loader_module'] = 'onnx_columns'
        saved.save(os.path.join(args.out, 'MLmodel'))
    # The promise of the format: the package loads and predicts with MLflow alone.
    loaded = mlflow.pyfunc.load_model(args.out)
    loaded.predict(example if example is not None else sample_rows[:2] if columns is None else __import__('pandas').DataFrame(sample_rows[:2], columns=columns))
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

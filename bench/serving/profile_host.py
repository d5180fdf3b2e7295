"""Where a scoring request's Python time goes, without HTTP: the scoring host's own scorers
(python/lapis_score, imported from the Lapis checkout) and MLflow's scoring-server function, called in a
loop in this one process on the same model files and the same single-row bodies as the HTTP benchmark.

    <python> profile_host.py --lapis-python <lapis>/python --model-dir <dir> --code-dir <dir> --bodies <json> [--n N]

Prints one JSON line: per-call medians in microseconds, and a cProfile of the no-code scorer.
"""
import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time


def timed(fn, n):
    """Median and p90 wall time of fn() in microseconds over n calls, after n // 10 warm-up calls."""
    for _ in range(max(10, n // 10)):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    return {'p50_us': samples[len(samples) // 2], 'p90_us': samples[int(len(samples) * 0.9)], 'n': n}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--lapis-python', required=True)
    parser.add_argument('--model-dir', required=True)
    parser.add_argument('--code-dir', required=True)
    parser.add_argument('--bodies', required=True, help='a JSON object: {"input_data": <body>, "dataframe_split": <body>}')
    parser.add_argument('--n', type=int, default=2000)
    args = parser.parse_args()
    bodies = {k: json.dumps(v).encode('utf-8') for k, v in json.loads(args.bodies).items()}
    sys.path.insert(0, args.lapis_python)
    from lapis_score.mlflow_model import MlflowModel
    from lapis_score.script import ScoringScript

    out = {}
    nocode = MlflowModel(args.model_dir)
    nocode.initialize()
    out['lapis_nocode_input_data'] = timed(lambda: nocode.score(bodies['input_data']), args.n)
    out['lapis_nocode_dataframe_split'] = timed(lambda: nocode.score(bodies['dataframe_split']), args.n)

    import pandas as pd
    from mlflow.pyfunc import scoring_server

    model = nocode.model
    schema = model.metadata.get_input_schema()
    text = bodies['dataframe_split'].decode('utf-8')
    out['mlflow_invocations_dataframe_split'] = timed(lambda: scoring_server.invocations(text, 'application/json', model, schema), args.n)
    split = json.loads(bodies['dataframe_split'])['dataframe_split']
    df = pd.DataFrame(split['data'], columns=split['columns'])
    out['parse_json_data'] = timed(lambda: scoring_server._parse_json_data(text, model.metadata, schema), args.n)
    out['pyfunc_predict'] = timed(lambda: model.predict(df), args.n)
    raw = model._model_impl  # the flavor's own model: scikit-learn's predict() without MLflow's schema checks
    inner = getattr(raw, 'sklearn_model', raw)
    out['sklearn_predict'] = timed(lambda: inner.predict(df), args.n)
    out['dataframe_build'] = timed(lambda: pd.DataFrame(split['data'], columns=split['columns']), args.n)

    os.environ['AZUREML_MODEL_DIR'] = args.model_dir
    script = ScoringScript(os.path.join(args.code_dir, 'score.py'), args.code_dir)
    script.initialize()
    out['lapis_script_input_data'] = timed(lambda: script.score(bodies['input_data']), args.n)

    # cProfile of the no-code scorer on the Azure body: self time per function, and the cumulative
    # time of the steps that matter.
    prof = cProfile.Profile()
    body = bodies['input_data']
    prof.enable()
    for _ in range(args.n):
        nocode.score(body)
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values())  # tottime summed = the profiled time
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append({'fn': fn, 'where': '%s:%d' % (shorten(file), line), 'calls_per_request': nc / args.n, 'self_us': tt / args.n * 1e6, 'cum_us': ct / args.n * 1e6})
    out['profile_total_us'] = total / args.n * 1e6
    out['profile_self'] = sorted(rows, key=lambda r: -r['self_us'])[:12]
    # The steps that matter, by function and where it lives; shares of the profiled time (the profiler
    # inflates every call, shares less so).
    wanted = (('_parse_json_data', 'scoring_server'), ('cast_df_types_according_to_schema', 'proto_json_utils'),
              ('_enforce_schema', 'models/utils'), ('check_array', 'sklearn/utils/validation'),
              ('from_native', 'narwhals/stable'), ('_get_jsonable_obj', 'proto_json_utils'), ('decode', 'lapis_score'),
              ('from_azure', 'lapis_score'))
    picked = []
    for fn, where in wanted:
        match = [r for r in rows if r['fn'] == fn and where in r['where']]
        if match:
            r = max(match, key=lambda x: x['cum_us'])
            picked.append(dict(r, share=r['cum_us'] / out['profile_total_us']))
    out['profile_cum'] = picked
    print(json.dumps(out))


def shorten(path):
    for marker in ('site-packages/', 'lapis_score/', 'python3.'):
        i = path.find(marker)
        if i >= 0:
            return path[i:] if marker == 'lapis_score/' else path[i + len(marker):].split('/', 1)[-1] if marker == 'python3.' else path[i + len(marker):]
    return os.path.basename(path)


if __name__ == '__main__':
    main()

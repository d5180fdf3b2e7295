#!/usr/bin/env python3
"""End-to-end MLflow tracking scenario, driven by the real `mlflow` 3.x client.

Usage:
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python tracking_scenario.py <unique-experiment-name>

The script talks to whatever tracking server MLFLOW_TRACKING_URI points at (MLflow's own
`mlflow server`, or Lapis), asserts every behaviour itself, and prints one JSON line at the end:

    {"ok": true, "checks": <n>, "experiment_id": "...", "run_ids": [...]}

On the first failed check it prints {"ok": false, ...} and the assertion message, and exits 1.
The expectations were validated against `mlflow server` (SQLite backend, artifact proxying).

Besides the main experiment (<name>), it creates helper experiments named "<name>::<suffix>",
so a fresh <name> per invocation keeps repeated runs from colliding.
"""

import json
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Keep stdout for the JSON summary: the client otherwise prints "View run ..." links there.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # headless: must happen before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import mlflow.data  # noqa: E402
import mlflow.sklearn  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

# SQL backends cannot store +/-Inf, so MLflow's own server stores (and returns) the largest
# finite double instead. A client reading the value back must accept either representation.
FLOAT_MAX = sys.float_info.max


# --------------------------------------------------------------------------------------------
# Check bookkeeping
# --------------------------------------------------------------------------------------------


class CheckFailed(AssertionError):
    pass


class Checks:
    """Counts passed checks, per area, and fails fast with a readable message."""

    def __init__(self):
        self.total = 0
        self.per_area = {}
        self.area = None

    def start(self, area):
        self.area = area
        self.per_area[area] = 0

    def __call__(self, condition, message):
        if not condition:
            raise CheckFailed(f"[{self.area}] {message}")
        self.total += 1
        self.per_area[self.area] += 1

    def equal(self, actual, expected, what):
        self(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


check = Checks()


class Scenario:
    """State shared between the areas: names, ids, and what each run's final status must be."""

    def __init__(self, name):
        self.name = name
        self.client = MlflowClient()
        self.experiment_id = None
        self.run_ids = []  # every run created, in creation order
        self.expected_status = {}  # run_id -> "FINISHED" / "FAILED"
        self.main_run_id = None
        self.grid_experiment_id = None  # experiment holding the search grid
        self.grid_ids = {}  # grid run name -> run_id
        self.workdir = Path(tempfile.mkdtemp(prefix="tracking-scenario-"))

    def helper_name(self, suffix):
        return f"{self.name}::{suffix}"

    def remember(self, run_id, status="FINISHED"):
        self.run_ids.append(run_id)
        self.expected_status[run_id] = status


def is_pos_inf(value):
    return value == math.inf or value == FLOAT_MAX


def is_neg_inf(value):
    return value == -math.inf or value == -FLOAT_MAX


def files_under(root):
    """{relative posix path: bytes} for every file below root."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def training_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 0.1 * rng.normal(size=40)
    return X, y


# --------------------------------------------------------------------------------------------
# Areas
# --------------------------------------------------------------------------------------------


def experiment_setup(s):
    check.start("experiment")
    check(s.client.get_experiment_by_name(s.name) is None,
          f"experiment {s.name!r} must not exist yet (pass a fresh name as argv[1])")

    exp = mlflow.set_experiment(s.name)
    s.experiment_id = exp.experiment_id
    check.equal(exp.name, s.name, "set_experiment() returned experiment name")
    check.equal(exp.lifecycle_stage, "active", "new experiment lifecycle_stage")

    by_name = mlflow.get_experiment_by_name(s.name)
    check(by_name is not None, "get_experiment_by_name() found the new experiment")
    check.equal(by_name.experiment_id, s.experiment_id, "get_experiment_by_name() experiment_id")

    mlflow.set_experiment_tag("team", "lapis")
    mlflow.set_experiment_tags({"purpose": "e2e", "scenario": s.name})
    tags = mlflow.get_experiment(s.experiment_id).tags
    for key, value in {"team": "lapis", "purpose": "e2e", "scenario": s.name}.items():
        check.equal(tags.get(key), value, f"experiment tag {key!r}")

    # set_experiment on an existing name selects it instead of creating another one
    again = mlflow.set_experiment(s.name)
    check.equal(again.experiment_id, s.experiment_id, "set_experiment() on an existing name")


def params_metrics_tags(s):
    check.start("params/metrics/tags")
    run_id = s.main_run_id
    run = mlflow.get_run(run_id)
    check.equal(run.info.run_name, "main", "run_name given to start_run()")
    check.equal(run.data.tags.get("mlflow.runName"), "main", "mlflow.runName tag")
    check.equal(run.info.status, "RUNNING", "status of an active run")
    check.equal(run.info.lifecycle_stage, "active", "lifecycle_stage of a new run")
    check.equal(run.info.experiment_id, s.experiment_id, "run experiment_id")

    mlflow.log_param("alpha", 0.5)
    mlflow.log_params({"optimizer": "sgd", "epochs": 50, "layers": [64, 32]})
    for step in range(50):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"rmse": 0.42, "r2": 0.91}, step=3)
    mlflow.set_tag("stage", "dev")
    mlflow.set_tags({"owner": "scenario", "priority": "high"})

    # Non-finite metric values
    mlflow.log_metric("nan_metric", float("nan"))
    mlflow.log_metric("inf_metric", float("inf"))
    mlflow.log_metric("neg_inf_metric", float("-inf"))

    data = mlflow.get_run(run_id).data
    expected_params = {"alpha": "0.5", "optimizer": "sgd", "epochs": "50", "layers": "[64, 32]"}
    for key, value in expected_params.items():
        check.equal(data.params.get(key), value, f"param {key!r} (params are stored as strings)")
    check.equal(data.metrics.get("loss"), 1.0 / 50, "latest 'loss' value (value at the last step)")
    check.equal(data.metrics.get("rmse"), 0.42, "metric 'rmse' from log_metrics")
    check.equal(data.metrics.get("r2"), 0.91, "metric 'r2' from log_metrics")
    for key, value in {"stage": "dev", "owner": "scenario", "priority": "high"}.items():
        check.equal(data.tags.get(key), value, f"run tag {key!r}")
    check(math.isnan(data.metrics.get("nan_metric", 0.0)),
          f"NaN metric reads back as nan, got {data.metrics.get('nan_metric')!r}")
    check(is_pos_inf(data.metrics.get("inf_metric")),
          f"+Inf metric reads back as inf (or float max), got {data.metrics.get('inf_metric')!r}")
    check(is_neg_inf(data.metrics.get("neg_inf_metric")),
          f"-Inf metric reads back as -inf (or -float max), got {data.metrics.get('neg_inf_metric')!r}")

    # Re-logging a param with the same value is allowed; changing it is not.
    mlflow.log_param("alpha", 0.5)
    check.equal(mlflow.get_run(run_id).data.params["alpha"], "0.5", "param after same-value re-log")
    try:
        mlflow.log_param("alpha", 0.9)
    except MlflowException as exc:
        check.equal(exc.error_code, "INVALID_PARAMETER_VALUE", "error_code when changing a param")
    else:
        check(False, "changing a logged param value must raise MlflowException")
    check.equal(mlflow.get_run(run_id).data.params["alpha"], "0.5", "param after rejected change")


def nested_run(s):
    check.start("nested run")
    with mlflow.start_run(run_name="child", nested=True) as child:
        s.remember(child.info.run_id)
        mlflow.log_param("fold", 1)
        check.equal(mlflow.active_run().info.run_id, child.info.run_id, "active run inside nested block")
    check.equal(mlflow.active_run().info.run_id, s.main_run_id, "active run after nested block ends")

    child_run = mlflow.get_run(child.info.run_id)
    check.equal(child_run.data.tags.get("mlflow.parentRunId"), s.main_run_id, "child's mlflow.parentRunId tag")
    check.equal(child_run.info.status, "FINISHED", "nested run status after its block")
    found = mlflow.search_runs(
        experiment_ids=[s.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{s.main_run_id}'",
        output_format="list",
    )
    check.equal([r.info.run_id for r in found], [child.info.run_id], "search by tags.mlflow.parentRunId")


def artifacts(s):
    check.start("artifacts")
    run_id = s.main_run_id
    src = s.workdir / "src"
    (src / "data" / "sub").mkdir(parents=True)
    hello = src / "hello.txt"
    hello.write_bytes(b"hello lapis\n")
    (src / "data" / "a.csv").write_bytes(b"x,y\n1,2\n3,4\n")
    (src / "data" / "sub" / "b.bin").write_bytes(bytes(range(256)) * 4)

    config = {"lr": 0.01, "layers": [64, 32], "name": "scenario"}
    mlflow.log_artifact(str(hello))
    mlflow.log_artifacts(str(src / "data"), artifact_path="data")
    mlflow.log_dict(config, "config/params.json")
    mlflow.log_dict(config, "config/params.yaml")
    mlflow.log_text("some notes\nline two\n", "notes/readme.txt")
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 1, 3])
    mlflow.log_figure(fig, "figures/plot.png")
    plt.close(fig)

    client = s.client
    root = {f.path: f for f in client.list_artifacts(run_id)}
    check.equal(sorted(root), ["config", "data", "figures", "hello.txt", "notes"], "artifact paths at the root")
    check(not root["hello.txt"].is_dir, "hello.txt is a file")
    check.equal(root["hello.txt"].file_size, hello.stat().st_size, "hello.txt file_size")
    for d in ("config", "data", "figures", "notes"):
        check(root[d].is_dir, f"{d!r} is listed as a directory")

    data = {f.path: f for f in client.list_artifacts(run_id, "data")}
    check.equal(sorted(data), ["data/a.csv", "data/sub"], "artifact paths under 'data' (paths are run-relative)")
    check.equal(data["data/a.csv"].file_size, 12, "data/a.csv file_size")
    check(data["data/sub"].is_dir, "data/sub is a directory")
    sub = client.list_artifacts(run_id, "data/sub")
    check.equal([(f.path, f.is_dir, f.file_size) for f in sub], [("data/sub/b.bin", False, 1024)],
                "listing of data/sub")
    config_dir = sorted(f.path for f in client.list_artifacts(run_id, "config"))
    check.equal(config_dir, ["config/params.json", "config/params.yaml"], "listing of config")

    # Download a single file and a whole directory, comparing bytes with what was logged.
    out = s.workdir / "download-file"
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="hello.txt", dst_path=str(out))
    check.equal(Path(local).read_bytes(), hello.read_bytes(), "downloaded hello.txt bytes")
    out = s.workdir / "download-dir"
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data", dst_path=str(out))
    check.equal(Path(local).name, "data", "downloaded directory name")
    check.equal(files_under(local), files_under(src / "data"), "downloaded 'data' directory contents")

    check.equal(mlflow.artifacts.load_dict(f"runs:/{run_id}/config/params.json"), config, "log_dict JSON round trip")
    # load_dict() only parses JSON; the client writes YAML with sorted keys and block lists.
    check.equal(mlflow.artifacts.load_text(f"runs:/{run_id}/config/params.yaml"),
                "layers:\n- 64\n- 32\nlr: 0.01\nname: scenario\n", "log_dict YAML round trip")
    check.equal(mlflow.artifacts.load_text(f"runs:/{run_id}/notes/readme.txt"), "some notes\nline two\n",
                "log_text round trip")
    png = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="figures/plot.png",
                                                   dst_path=str(s.workdir / "download-fig")))
    check(png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), "log_figure stored a PNG")


def dataset_input(s):
    check.start("dataset input")
    df = pd.DataFrame({"x1": [1.0, 2.0, 3.0, 4.0], "x2": [0.5, 0.1, 0.3, 0.2], "y": [0.0, 1.0, 0.0, 1.0]})
    dataset = mlflow.data.from_pandas(df, name="scenario-train", targets="y")
    mlflow.log_input(dataset, context="training", tags={"split": "train"})

    inputs = mlflow.get_run(s.main_run_id).inputs.dataset_inputs
    check.equal(len(inputs), 1, "number of dataset inputs on the run")
    logged = inputs[0]
    check.equal(logged.dataset.name, "scenario-train", "dataset name")
    check.equal(logged.dataset.digest, dataset.digest, "dataset digest")
    check.equal(logged.dataset.source_type, "code", "dataset source_type (from_pandas without a source)")
    check.equal(json.loads(logged.dataset.schema), json.loads(dataset.to_dict()["schema"]), "dataset schema")
    tags = {t.key: t.value for t in logged.tags}
    check.equal(tags.get("mlflow.data.context"), "training", "dataset context tag")
    check.equal(tags.get("split"), "train", "custom dataset input tag")
    check.equal(json.loads(logged.dataset.profile).get("num_rows"), 4, "dataset profile num_rows")


def logged_model(s):
    check.start("logged model")
    run_id = s.main_run_id
    X, y = training_data()
    model = Ridge(alpha=0.5).fit(X, y)
    info = mlflow.sklearn.log_model(model, name="model", input_example=X[:3])

    check(info.model_id.startswith("m-"), f"ModelInfo.model_id starts with 'm-', got {info.model_id!r}")
    check.equal(info.model_uri, f"models:/{info.model_id}", "ModelInfo.model_uri")
    check.equal(info.run_id, run_id, "ModelInfo.run_id")

    lm = mlflow.get_logged_model(info.model_id)
    check.equal(str(lm.status), "READY", "logged model status")
    check.equal(lm.name, "model", "logged model name")
    check.equal(lm.source_run_id, run_id, "logged model source_run_id")
    check.equal(lm.experiment_id, s.experiment_id, "logged model experiment_id")

    # The model's files live with the logged model, not under the run's artifacts.
    model_files = {f.path for f in s.client.list_logged_model_artifacts(info.model_id)}
    check("MLmodel" in model_files, f"MLmodel among logged model artifacts {sorted(model_files)}")
    check("model" not in {f.path for f in s.client.list_artifacts(run_id)},
          "log_model() in MLflow 3 does not write 'model' into the run's artifact root")
    outputs = [o.model_id for o in mlflow.get_run(run_id).outputs.model_outputs]
    check.equal(outputs, [info.model_id], "run.outputs.model_outputs")

    expected = model.predict(X)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    check(np.allclose(loaded.predict(X), expected), "models:/<model_id> predictions equal model.predict(X)")
    # runs:/<run_id>/model still works: the client falls back to the logged model named 'model'
    # whose source run is <run_id> (found via logged-models/search).
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    check(np.allclose(by_run.predict(X), expected), "runs:/<run_id>/model predictions equal model.predict(X)")

    found = mlflow.search_logged_models(experiment_ids=[s.experiment_id], output_format="list")
    check(info.model_id in [m.model_id for m in found], "search_logged_models() finds the model")


def autolog(s):
    check.start("autolog")
    X, y = training_data()
    mlflow.sklearn.autolog(log_input_examples=False, silent=True)
    try:
        with mlflow.start_run(run_name="autolog") as run:
            s.remember(run.info.run_id)
            Ridge(alpha=0.25).fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)

    got = mlflow.get_run(run.info.run_id)
    check.equal(got.data.params.get("alpha"), "0.25", "autologged param 'alpha'")
    for metric in ("training_score", "training_r2_score", "training_mean_squared_error"):
        check(metric in got.data.metrics, f"autologged metric {metric!r} in {sorted(got.data.metrics)}")
    check.equal(got.data.tags.get("estimator_name"), "Ridge", "autologged tag estimator_name")
    model_ids = [o.model_id for o in got.outputs.model_outputs]
    check.equal(len(model_ids), 1, "autolog logged exactly one model for the run")
    lm = mlflow.get_logged_model(model_ids[0])
    check.equal(str(lm.status), "READY", "autologged model status")
    check.equal(lm.source_run_id, run.info.run_id, "autologged model source_run_id")
    preds = mlflow.pyfunc.load_model(f"models:/{lm.model_id}").predict(X)
    check(np.allclose(preds, Ridge(alpha=0.25).fit(X, y).predict(X)), "autologged model predicts like a fresh fit")


def metric_history(s):
    check.start("metric history")
    history = s.client.get_metric_history(s.main_run_id, "loss")
    check.equal(len(history), 50, "number of 'loss' history points")
    check.equal([m.step for m in history], list(range(50)), "'loss' steps, in order")
    check.equal([m.value for m in history], [1.0 / (i + 1) for i in range(50)], "'loss' values, in order")
    check(all(m.key == "loss" for m in history), "history entries carry the key")
    timestamps = [m.timestamp for m in history]
    check(timestamps == sorted(timestamps) and timestamps[0] > 0, "history timestamps are set and non-decreasing")

    nan_history = s.client.get_metric_history(s.main_run_id, "nan_metric")
    check(len(nan_history) == 1 and math.isnan(nan_history[0].value), "NaN in metric history")
    inf_history = s.client.get_metric_history(s.main_run_id, "inf_metric")
    check(len(inf_history) == 1 and is_pos_inf(inf_history[0].value), "+Inf in metric history")
    check.equal(s.client.get_metric_history(s.main_run_id, "no_such_metric"), [], "history of an unknown metric")


# Search grid: 12 runs with known values in their own experiment, so results are exact.
GRID_ALPHAS = ["0.1", "0.5", "1.0"]
GRID_RMSE = [0.91, 0.42, 0.77, 0.63, 0.35, 0.88, 0.58, 0.85, 0.49, 0.99, 0.27, 0.81]
GRID_FAILED = {5, 9}


def grid_rows(base_time):
    rows = []
    for i, rmse in enumerate(GRID_RMSE):
        rows.append({
            "name": f"grid-{i:02d}",
            "alpha": GRID_ALPHAS[i % 3],
            "rmse": rmse,
            "family": "tree" if i % 4 == 0 else "linear",
            "priority": f"{(7 * i) % 12:02d}",  # a permutation of 00..11
            "start_time": base_time + i * 60_000,
            "status": "FAILED" if i in GRID_FAILED else "FINISHED",
        })
    return rows


def search_runs(s):
    check.start("search runs")
    client = s.client
    grid_exp = client.create_experiment(s.helper_name("search"), tags={"scenario": s.name})
    s.grid_experiment_id = grid_exp
    base = int(time.time() * 1000) - 24 * 3600 * 1000  # explicit start times: deterministic ordering
    rows = grid_rows(base)
    ids = {}
    for row in rows:
        run = client.create_run(grid_exp, start_time=row["start_time"], run_name=row["name"],
                                tags={"family": row["family"], "priority": row["priority"]})
        run_id = run.info.run_id
        ids[row["name"]] = run_id
        client.log_param(run_id, "alpha", row["alpha"])
        client.log_metric(run_id, "rmse", row["rmse"])
        client.set_terminated(run_id, status=row["status"], end_time=row["start_time"] + 1000)
        s.remember(run_id, row["status"])
    name_of = {v: k for k, v in ids.items()}

    def names(runs):
        return [name_of[r.info.run_id] for r in runs]

    def search(**kwargs):
        return client.search_runs([grid_exp], **kwargs)

    # The headline query: fluent API, DataFrame output.
    df = mlflow.search_runs(
        experiment_ids=[grid_exp],
        filter_string="metrics.rmse < 0.8 and params.alpha = '0.5'",
        order_by=["metrics.rmse ASC"],
    )
    expected = [r["name"] for r in sorted(rows, key=lambda r: r["rmse"]) if r["rmse"] < 0.8 and r["alpha"] == "0.5"]
    check.equal(expected, ["grid-10", "grid-04", "grid-01"], "sanity: expected grid result")
    check.equal(df["tags.mlflow.runName"].tolist(), expected, "search_runs(rmse < 0.8 and alpha = '0.5') order")
    check.equal(df["metrics.rmse"].tolist(), [0.27, 0.35, 0.42], "search_runs() metrics.rmse column")
    check.equal(df["run_id"].tolist(), [ids[n] for n in expected], "search_runs() run_id column")
    check.equal(set(df["params.alpha"]), {"0.5"}, "search_runs() params.alpha column")

    # Paging through everything, 5 at a time.
    seen, sizes, token = [], [], None
    while True:
        page = search(max_results=5, page_token=token)
        seen += [r.info.run_id for r in page]
        sizes.append(len(page))
        token = page.token
        if not token:
            break
        check(len(sizes) <= 3, "paging terminates")
    check.equal(sizes, [5, 5, 2], "page sizes with max_results=5 over 12 runs")
    check.equal(len(seen), len(set(seen)), "no duplicates across pages")
    check.equal(set(seen), set(ids.values()), "paging saw every run")
    # Default order is start_time DESC.
    check.equal([name_of[r] for r in seen], [r["name"] for r in reversed(rows)], "default order (start_time DESC)")

    tree = search(filter_string="tags.family = 'tree'", order_by=["attributes.run_name ASC"])
    check.equal(names(tree), [r["name"] for r in rows if r["family"] == "tree"], "filter on a tag")
    like = search(filter_string="attributes.run_name LIKE 'grid-1%'", order_by=["attributes.run_name ASC"])
    check.equal(names(like), ["grid-10", "grid-11"], "filter attributes.run_name LIKE")
    failed = search(filter_string="attributes.status = 'FAILED'", order_by=["attributes.run_name ASC"])
    check.equal(names(failed), [r["name"] for r in rows if r["status"] == "FAILED"], "filter attributes.status")
    cutoff = rows[6]["start_time"]
    recent = search(filter_string=f"attributes.start_time >= {cutoff}", order_by=["attributes.start_time ASC"])
    check.equal(names(recent), [r["name"] for r in rows[6:]], "filter attributes.start_time >= t, ordered ASC")
    combined = search(filter_string="params.alpha = '1.0' and tags.family = 'linear' and metrics.rmse > 0.5")
    check.equal(set(names(combined)), {r["name"] for r in rows if r["alpha"] == "1.0" and r["family"] == "linear"
                                       and r["rmse"] > 0.5}, "filter combining param, tag and metric")

    by_param = search(order_by=["params.alpha DESC", "attributes.run_name ASC"])
    # rows are already in name order and sorted() is stable, so ties stay name ASC
    expected_param_order = [r["name"] for r in sorted(rows, key=lambda r: r["alpha"], reverse=True)]
    check.equal(names(by_param), expected_param_order, "order_by params.alpha DESC, run_name ASC")
    by_tag = search(order_by=["tags.priority ASC"])
    check.equal(names(by_tag), [r["name"] for r in sorted(rows, key=lambda r: r["priority"])],
                "order_by tags.priority ASC")
    by_metric = search(order_by=["metrics.rmse DESC"], max_results=3)
    check.equal(names(by_metric), ["grid-09", "grid-00", "grid-05"], "order_by metrics.rmse DESC, max_results=3")

    s.grid_ids = ids


def run_lifecycle(s):
    check.start("run lifecycle")
    client, ids = s.client, s.grid_ids
    grid = [s.grid_experiment_id]
    doomed, revived = ids["grid-03"], ids["grid-07"]
    client.delete_run(doomed)
    client.delete_run(revived)
    check.equal(client.get_run(doomed).info.lifecycle_stage, "deleted", "lifecycle_stage after delete_run")

    deleted = client.search_runs(grid, run_view_type=ViewType.DELETED_ONLY)
    check.equal({r.info.run_id for r in deleted}, {doomed, revived}, "DELETED_ONLY after deleting two runs")
    active = client.search_runs(grid)  # ACTIVE_ONLY is the default
    check.equal(len(active), 10, "default view hides deleted runs")
    check(doomed not in {r.info.run_id for r in active}, "deleted run not in the default view")
    check.equal(len(client.search_runs(grid, run_view_type=ViewType.ALL)), 12, "ALL view includes deleted runs")

    client.restore_run(revived)
    check.equal(client.get_run(revived).info.lifecycle_stage, "active", "lifecycle_stage after restore_run")
    deleted = client.search_runs(grid, run_view_type=ViewType.DELETED_ONLY)
    check.equal([r.info.run_id for r in deleted], [doomed], "DELETED_ONLY after restoring one")
    check.equal(len(client.search_runs(grid, run_view_type=ViewType.ACTIVE_ONLY)), 11, "ACTIVE_ONLY after restore")
    check.equal(client.get_run(doomed).info.status, "FINISHED", "deleting a run keeps its status")


def experiments(s):
    check.start("experiments")
    client = s.client
    for suffix in ("a", "b", "c"):
        client.create_experiment(s.helper_name(suffix), tags={"scenario": s.name, "kind": "helper"})
    like = f"name LIKE '{s.name}::%'"
    helper_names = sorted(s.helper_name(x) for x in ("a", "b", "c", "search"))

    found = client.search_experiments(filter_string=like, order_by=["name ASC"])
    check.equal([e.name for e in found], helper_names, "search_experiments(name LIKE, order_by name ASC)")
    found = client.search_experiments(filter_string=like, order_by=["name DESC"])
    check.equal([e.name for e in found], helper_names[::-1], "search_experiments order_by name DESC")
    found = mlflow.search_experiments(filter_string=f"{like} AND tags.kind = 'helper'")
    check.equal(sorted(e.name for e in found), helper_names[:3], "search_experiments on name LIKE and a tag")
    found = client.search_experiments(filter_string=f"name = '{s.name}'")
    check.equal([e.experiment_id for e in found], [s.experiment_id], "search_experiments(name = ...)")

    pages, token = [], None
    while True:
        page = client.search_experiments(filter_string=like, order_by=["name ASC"], max_results=3, page_token=token)
        pages.append([e.name for e in page])
        token = page.token
        if not token:
            break
        check(len(pages) <= 2, "experiment paging terminates")
    check.equal(pages, [helper_names[:3], helper_names[3:]], "search_experiments pages with max_results=3")

    # Rename
    c_id = client.get_experiment_by_name(s.helper_name("c")).experiment_id
    client.rename_experiment(c_id, s.helper_name("renamed"))
    check(client.get_experiment_by_name(s.helper_name("c")) is None, "old name is gone after rename_experiment")
    check.equal(client.get_experiment(c_id).name, s.helper_name("renamed"), "get_experiment() name after rename")
    check.equal(client.get_experiment_by_name(s.helper_name("renamed")).experiment_id, c_id, "lookup by new name")

    # Delete / restore, with view_type
    client.delete_experiment(c_id)
    check.equal(client.get_experiment(c_id).lifecycle_stage, "deleted", "experiment lifecycle after delete")
    active = [e.experiment_id for e in client.search_experiments(filter_string=like)]
    check(c_id not in active, "deleted experiment hidden from the default (ACTIVE_ONLY) view")
    deleted = client.search_experiments(filter_string=like, view_type=ViewType.DELETED_ONLY)
    check.equal([e.experiment_id for e in deleted], [c_id], "search_experiments DELETED_ONLY")
    every = client.search_experiments(filter_string=like, view_type=ViewType.ALL)
    check.equal(len(every), 4, "search_experiments ALL includes the deleted experiment")
    client.restore_experiment(c_id)
    check.equal(client.get_experiment(c_id).lifecycle_stage, "active", "experiment lifecycle after restore")
    deleted = client.search_experiments(filter_string=like, view_type=ViewType.DELETED_ONLY)
    check.equal(list(deleted), [], "no deleted experiments after restore")


def log_batch(s):
    check.start("log_batch")
    client = s.client
    run = client.create_run(s.experiment_id, run_name="batch")
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("acc", 0.5 + 0.1 * i, now + i, i) for i in range(4)] + [Metric("f1", 0.7, now, 0)],
        params=[Param("batch_size", "32"), Param("optimizer", "adam")],
        tags=[RunTag("source", "log_batch"), RunTag("note", "bulk")],
    )
    client.set_terminated(run_id)
    s.remember(run_id)

    data = client.get_run(run_id).data
    check.equal(data.params, {"batch_size": "32", "optimizer": "adam"}, "log_batch params")
    check.equal(data.tags.get("source"), "log_batch", "log_batch tag 'source'")
    check.equal(data.tags.get("note"), "bulk", "log_batch tag 'note'")
    check.equal(data.metrics.get("acc"), 0.5 + 0.1 * 3, "log_batch latest 'acc' (highest step)")
    check.equal(data.metrics.get("f1"), 0.7, "log_batch metric 'f1'")
    history = client.get_metric_history(run_id, "acc")
    check.equal([(m.step, m.value, m.timestamp) for m in history],
                [(i, 0.5 + 0.1 * i, now + i) for i in range(4)], "log_batch 'acc' history")


def failed_run(s):
    check.start("failed run")
    mlflow.start_run(run_name="doomed")
    run_id = mlflow.active_run().info.run_id
    mlflow.log_metric("progress", 0.3)
    mlflow.end_run("FAILED")
    s.remember(run_id, "FAILED")
    check(mlflow.active_run() is None, "no active run after end_run()")
    info = mlflow.get_run(run_id).info
    check.equal(info.status, "FAILED", "status after end_run('FAILED')")
    check(info.end_time is not None and info.end_time >= info.start_time, "FAILED run has an end_time")


def final_statuses(s):
    check.start("final statuses")
    for run_id in s.run_ids:
        info = s.client.get_run(run_id).info
        expected = s.expected_status[run_id]
        check.equal(info.status, expected, f"status of run {info.run_name} ({run_id})")
        check(info.end_time is not None and info.end_time >= info.start_time,
              f"run {info.run_name} has end_time >= start_time ({info.start_time}, {info.end_time})")


# --------------------------------------------------------------------------------------------


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: MLFLOW_TRACKING_URI=... tracking_scenario.py <unique-experiment-name>")
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        sys.exit("MLFLOW_TRACKING_URI must be set")
    s = Scenario(sys.argv[1])
    try:
        experiment_setup(s)
        with mlflow.start_run(run_name="main") as main_run:
            s.main_run_id = main_run.info.run_id
            s.remember(s.main_run_id)
            params_metrics_tags(s)
            nested_run(s)
            artifacts(s)
            dataset_input(s)
            logged_model(s)
        autolog(s)
        metric_history(s)
        search_runs(s)
        run_lifecycle(s)
        experiments(s)
        log_batch(s)
        failed_run(s)
        final_statuses(s)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        print(json.dumps({"ok": False, "checks": check.total, "area": check.area, "error": str(exc)}))
        sys.exit(1)
    except Exception as exc:  # unexpected client/server error: show where it happened
        traceback.print_exc()
        print(json.dumps({"ok": False, "checks": check.total, "area": check.area,
                          "error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)

    print("checks per area: " + json.dumps(check.per_area), file=sys.stderr)
    print(json.dumps({"ok": True, "checks": check.total, "experiment_id": s.experiment_id, "run_ids": s.run_ids}))


if __name__ == "__main__":
    main()

"""The real MLflow client acting with one identity against a Lapis server with authentication on.

Usage (the identity comes from the environment, as for any MLflow client):
    MLFLOW_TRACKING_URI=<url>/workspaces/dev MLFLOW_TRACKING_TOKEN=lapis_... \
        python role_client.py probe <experiment_id> <run_id> <artifact_path> <new_experiment_name>
    ... role_client.py scientist <new_experiment_name>
    ... role_client.py anonymous

Every step prints one JSON line on stdout and never stops the script:
    {"step": "<name>", "ok": true, "value": ...}
    {"step": "<name>", "ok": false, "error_code": "PERMISSION_DENIED", "error": "<message>"}
The caller decides which outcome each identity should see. The exit code is 0 unless the script
itself is broken (bad arguments, an exception outside a step).
"""

import json
import os
import sys
import tempfile

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException


def emit(step, ok, **fields):
    print(json.dumps({"step": step, "ok": ok, **fields}, default=str), flush=True)


def error_code(exc):
    """The MLflow error code of a failure, however the client surfaced it."""
    code = getattr(exc, "error_code", None)
    if code:
        return str(code)
    # Artifact downloads raise requests' HTTPError (or wrap it): map the status like MLflow would.
    response = getattr(exc, "response", None) or getattr(getattr(exc, "__cause__", None), "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        try:
            body = response.json()
            if isinstance(body, dict) and body.get("error_code"):
                return body["error_code"]
        except Exception:  # noqa: BLE001 - not JSON
            pass
        return {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST", 429: "REQUEST_LIMIT_EXCEEDED"}.get(status, f"HTTP_{status}")
    text = str(exc)
    for code in ("UNAUTHENTICATED", "PERMISSION_DENIED", "RESOURCE_DOES_NOT_EXIST"):
        if code in text:
            return code
    for status, code in (("401", "UNAUTHENTICATED"), ("403", "PERMISSION_DENIED")):
        if f" {status} " in text or f"status code {status}" in text or f"{status} Client Error" in text:
            return code
    return type(exc).__name__


def step(name, fn):
    try:
        value = fn()
    except (MlflowException, RestException, Exception) as exc:  # noqa: BLE001 - every failure is a result here
        emit(name, False, error_code=error_code(exc), error=str(exc)[:500])
        return None
    emit(name, True, value=value)
    return value


def probe(experiment_id, run_id, artifact_path, new_experiment_name):
    """Read, download, write and create: what a role may do shows up as ok/error per step."""
    client = MlflowClient()
    step("search_runs", lambda: [r.info.run_id for r in mlflow.search_runs([experiment_id], output_format="list")])
    step("get_run", lambda: client.get_run(run_id).data.params)
    step("get_metric_history", lambda: [m.value for m in client.get_metric_history(run_id, "rmse")])

    def download():
        with tempfile.TemporaryDirectory() as dst:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=dst)
            with open(local, encoding="utf-8") as f:
                return f.read()

    step("download_artifacts", download)
    step("list_artifacts", lambda: sorted(f.path for f in client.list_artifacts(run_id)))
    step("log_metric", lambda: client.log_metric(run_id, "probe", 1.0, step=0))
    step("set_tag", lambda: client.set_tag(run_id, "probe", "x"))

    def upload():
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "probe.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write("probe")
            client.log_artifact(run_id, path)

    step("log_artifact", upload)
    step("create_experiment", lambda: client.create_experiment(new_experiment_name))


def scientist(experiment_name):
    """The full loop of a Data Scientist: experiment, run, params, metrics, artifacts, a model."""
    experiment_id = step("create_experiment", lambda: mlflow.create_experiment(experiment_name))
    if experiment_id is None:
        return

    def run():
        with mlflow.start_run(experiment_id=experiment_id, run_name="ds-run") as active:
            mlflow.log_param("alpha", "0.5")
            for i in range(3):
                mlflow.log_metric("rmse", 1.0 / (i + 1), step=i)
            mlflow.set_tag("owner", "data-scientist")
            mlflow.log_text("hello from a data scientist", "notes/hello.txt")
            mlflow.log_dict({"depth": 3}, "config.json")
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "data.csv")
                with open(path, "w", encoding="utf-8") as f:
                    f.write("x,y\n1,2\n3,4\n")
                mlflow.log_artifact(path, artifact_path="data")
            return active.info.run_id

    run_id = step("log_run", run)
    if run_id is None:
        return

    def model():
        from sklearn.linear_model import LinearRegression

        with mlflow.start_run(run_id=run_id):
            info = mlflow.sklearn.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), name="model")
        loaded = mlflow.sklearn.load_model(info.model_uri)
        return {"model_id": info.model_id, "prediction": float(loaded.predict([[2.0]])[0])}

    step("log_model", model)
    step("list_artifacts", lambda: sorted(f.path for f in MlflowClient().list_artifacts(run_id)))
    step("result", lambda: {"experiment_id": experiment_id, "run_id": run_id})


def anonymous():
    step("search_experiments", lambda: [e.name for e in mlflow.search_experiments()])
    step("create_experiment", lambda: mlflow.create_experiment("anonymous-experiment"))


def main(argv):
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        sys.exit("MLFLOW_TRACKING_URI must be set")
    scenarios = {"probe": (probe, 4), "scientist": (scientist, 1), "anonymous": (anonymous, 0)}
    if len(argv) < 1 or argv[0] not in scenarios or len(argv) - 1 != scenarios[argv[0]][1]:
        sys.exit(__doc__)
    fn, _ = scenarios[argv[0]]
    fn(*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])

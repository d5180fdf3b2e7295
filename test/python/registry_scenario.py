"""The real mlflow client against a tracking server's model registry.

Usage: MLFLOW_TRACKING_URI=http://... python registry_scenario.py <unique-name>
Asserts each step itself; prints one JSON line {"ok": true, "checks": N} on success.
"""

import json
import sys

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression

checks = 0


def check(condition, message):
    global checks
    assert condition, message
    checks += 1


def main(name: str) -> None:
    client = MlflowClient()
    model_name = f"{name}-model"
    X = np.arange(20, dtype=float).reshape(-1, 1)
    y = 3 * X.ravel() + 2
    model = LinearRegression().fit(X, y)

    mlflow.set_experiment(name)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=model_name, input_example=X[:2])
    check(str(info.registered_model_version) == "1", f"log_model registered version 1, got {info.registered_model_version}")

    # register_model from runs:/ (MLflow 3 resolves it to the logged model) creates version 2
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name)
    check(mv.version == "2", f"second registration is version 2, got {mv.version}")
    check(mv.status == "READY", f"version is READY, got {mv.status}")
    check(mv.run_id == run.info.run_id, "version records its source run")

    # a version with the same model again from models:/<model_id>
    mv3 = client.create_model_version(model_name, f"models:/{info.model_id}", run_id=run.info.run_id, tags={"stage": "candidate"}, description="third")
    check(mv3.version == "3" and mv3.description == "third", "create_model_version with tags and description")

    # aliases
    client.set_registered_model_alias(model_name, "champion", "2")
    by_alias = client.get_model_version_by_alias(model_name, "champion")
    check(by_alias.version == "2", f"alias champion -> 2, got {by_alias.version}")
    check("champion" in client.get_registered_model(model_name).aliases, "registered model lists its alias")
    try:
        client.set_registered_model_alias(model_name, "latest", "1")
        check(False, "alias 'latest' must be refused")
    except MlflowException as e:
        check(e.error_code == "INVALID_PARAMETER_VALUE", f"reserved alias refused with INVALID_PARAMETER_VALUE, got {e.error_code}")

    # load by alias and by version, and predict
    X_new = np.array([[100.0], [-1.0]])
    expected = model.predict(X_new)
    for uri in (f"models:/{model_name}@champion", f"models:/{model_name}/1", f"models:/{model_name}/3"):
        predicted = mlflow.pyfunc.load_model(uri).predict(X_new)
        check(np.allclose(predicted, expected), f"{uri} predicts {predicted}, expected {expected}")

    # stages (deprecated in MLflow, still used)
    client.transition_model_version_stage(model_name, "1", "Production")
    client.transition_model_version_stage(model_name, "2", "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name = '{model_name}'")}
    check(stages == {"1": "Archived", "2": "Production", "3": "None"}, f"stages after transitions: {stages}")
    latest = client.get_latest_versions(model_name, stages=["Production"])
    check([v.version for v in latest] == ["2"], "latest Production version is 2")

    # tags, descriptions, search with filters and ordering
    client.set_model_version_tag(model_name, "2", "validated", "yes")
    client.set_registered_model_tag(model_name, "team", "churn")
    client.update_registered_model(model_name, description="predicts churn")
    client.update_model_version(model_name, "1", description="first")
    check(client.get_registered_model(model_name).description == "predicts churn", "model description updated")
    check(client.get_model_version(model_name, "1").description == "first", "version description updated")
    found = client.search_model_versions(f"name = '{model_name}' and tags.validated = 'yes'")
    check([v.version for v in found] == ["2"], f"tag filter finds version 2, got {[v.version for v in found]}")
    ordered = client.search_model_versions(f"name = '{model_name}'", order_by=["version_number ASC"])
    check([v.version for v in ordered] == ["1", "2", "3"], "order_by version_number ASC")
    by_run = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    check(len(by_run) == 3, f"run_id filter finds all three versions, got {len(by_run)}")
    models = client.search_registered_models(filter_string=f"name LIKE '{name}%'")
    check([m.name for m in models] == [model_name], f"search_registered_models by LIKE, got {[m.name for m in models]}")
    tagged = client.search_registered_models(filter_string="tags.team = 'churn'")
    check(model_name in [m.name for m in tagged], "search_registered_models by tag")

    # download URI points at the logged model's artifacts, and they download
    uri = client.get_model_version_download_uri(model_name, "2")
    check(uri.startswith("mlflow-artifacts:") and info.model_id in uri, f"download uri names the logged model: {uri}")
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    import os

    check(os.path.exists(os.path.join(local, "MLmodel")), "downloaded model has an MLmodel file")

    # rename keeps versions and aliases; delete version and model
    renamed = f"{model_name}-renamed"
    client.rename_registered_model(model_name, renamed)
    check(client.get_model_version_by_alias(renamed, "champion").version == "2", "alias survives rename")
    check(len(client.search_model_versions(f"name = '{renamed}'")) == 3, "versions survive rename")
    client.delete_model_version(renamed, "1")
    check(len(client.search_model_versions(f"name = '{renamed}'")) == 2, "version deleted")
    try:
        client.get_model_version(renamed, "1")
        check(False, "deleted version must be gone")
    except MlflowException as e:
        check(e.error_code == "RESOURCE_DOES_NOT_EXIST", f"deleted version is RESOURCE_DOES_NOT_EXIST, got {e.error_code}")
    client.delete_registered_model(renamed)
    try:
        client.get_registered_model(renamed)
        check(False, "deleted model must be gone")
    except MlflowException as e:
        check(e.error_code == "RESOURCE_DOES_NOT_EXIST", "deleted model is RESOURCE_DOES_NOT_EXIST")

    print(json.dumps({"ok": True, "checks": checks}))


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except AssertionError as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        sys.exit(1)

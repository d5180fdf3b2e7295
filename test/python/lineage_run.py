"""Log a training run whose lineage Lapis can trace: an Azure ML data asset as its input dataset,
a scikit-learn model, and the environment and code it ran with.

Usage: MLFLOW_TRACKING_URI=http://... python lineage_run.py <experiment> <data-ref>
Prints one JSON line: {"ok": true, "run_id": ..., "experiment_id": ..., "model_id": ...}.
"""

import json
import sys

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.dataset_source_registry import register_dataset_source
from sklearn.linear_model import LogisticRegression


class AzureMLDataSource(DatasetSource):
    """`azureml:<name>:<version>` data asset references as an MLflow dataset source.

    Plain MLflow has no resolver for them (from_pandas(df, source="azureml:iris:1") raises), so
    this registers one, as an Azure ML or Lapis plugin would.
    """

    def __init__(self, uri: str):
        self._uri = uri

    @staticmethod
    def _get_source_type() -> str:
        return "azureml"

    def load(self, **kwargs):
        raise NotImplementedError("download the data asset with `lapis data download`")

    @staticmethod
    def _can_resolve(raw_source) -> bool:
        return isinstance(raw_source, str) and raw_source.startswith("azureml:")

    @classmethod
    def _resolve(cls, raw_source) -> "AzureMLDataSource":
        return cls(raw_source)

    def to_dict(self) -> dict:
        return {"uri": self._uri}

    @classmethod
    def from_dict(cls, source_dict: dict) -> "AzureMLDataSource":
        return cls(source_dict["uri"])


def main(experiment: str, data_ref: str) -> None:
    register_dataset_source(AzureMLDataSource)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40)})
    df["y"] = (df.x1 + df.x2 > 0).astype(int)
    dataset = mlflow.data.from_pandas(df, source=data_ref, name="iris", targets="y")

    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="train-iris") as run:
        mlflow.log_input(dataset, context="training")
        mlflow.set_tags({"lapis.environment": "azureml:sklearn-env:1", "lapis.code": "a04d18c06abdd5f6ccc52c552529cf5cd8dd0aba58ad762b354188b58176e4be"})
        model = LogisticRegression().fit(df[["x1", "x2"]], df.y)
        mlflow.log_metric("accuracy", float(model.score(df[["x1", "x2"]], df.y)))
        info = mlflow.sklearn.log_model(model, name="model", input_example=df[["x1", "x2"]].head(2))

    logged = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(logged) == 1 and logged[0].dataset.name == "iris", f"the run records its dataset, got {logged}"
    print(json.dumps({"ok": True, "run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "model_id": info.model_id, "dataset_source": logged[0].dataset.source}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

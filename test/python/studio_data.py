"""Logs the studio's end-to-end data with the real mlflow client: an experiment of runs with params,
metric curves, tags and every kind of artifact the studio previews. Prints a JSON summary."""
import json
import math
import sys
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

experiment = sys.argv[1]
mlflow.set_experiment(experiment)
client = mlflow.MlflowClient()
runs = []
for i, alpha in enumerate([0.1, 0.5, 1.0, 2.0, 5.0]):
    with mlflow.start_run(run_name=f"ridge-{alpha}") as run:
        now = int(time.time() * 1000)
        metrics = [Metric("loss", (1 + alpha) / (s + 1) + 0.01 * math.sin(s), now + s * 10, s) for s in range(300)]
        metrics += [Metric("accuracy", 1 - 0.5 / (s + 1) - alpha / 50, now + s * 10, s) for s in range(300)]
        params = [Param("alpha", str(alpha)), Param("solver", "svd" if i % 2 else "auto"), Param("fit_intercept", "true")]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run.info.run_id, metrics=metrics[start : start + 1000], params=params if start == 0 else [], tags=[RunTag("team", "vision")] if start == 0 else [])
        if i == 0:
            mlflow.log_text("first line\nsecond line\n", "notes.txt")
            mlflow.log_dict({"alpha": alpha, "layers": [64, 32]}, "config.json")
            fig, ax = plt.subplots(figsize=(3, 2))
            ax.plot([0, 1, 2], [2, 1, 0.5])
            mlflow.log_figure(fig, "curve.png")
            mlflow.log_table(pd.DataFrame({"feature": ["a", "b", "c"], "weight": [0.5, -1.25, 3.0]}), "weights.json")
            # A saved model directory as run artifacts (MLflow 3's log_model files it under a logged model instead).
            with tempfile.TemporaryDirectory() as tmp:
                mlflow.sklearn.save_model(Ridge(alpha=alpha).fit([[0], [1], [2]], [0, 1, 2]), f"{tmp}/model")
                mlflow.log_artifacts(f"{tmp}/model", "model")
        runs.append({"run_id": run.info.run_id, "name": f"ridge-{alpha}"})

# The first run's model, registered: its version's lineage leads back to the run and the experiment.
version = mlflow.register_model(f"runs:/{runs[0]['run_id']}/model", "studio-model")
client.set_registered_model_alias("studio-model", "champion", version.version)

print(json.dumps({"experiment_id": mlflow.get_experiment_by_name(experiment).experiment_id, "runs": runs}))

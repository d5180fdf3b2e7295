"""The batch scoring contract: init() once per worker process, run(mini_batch) per mini-batch with the
paths of its files; it returns one row per scored item (here, per row of each CSV file)."""
import os

import mlflow
import pandas as pd


def init():
    global model, prefix
    # AZUREML_MODEL_DIR holds the model's files (here an MLflow model folder).
    model = mlflow.pyfunc.load_model(os.environ["AZUREML_MODEL_DIR"])
    prefix = os.environ.get("LABEL_PREFIX", "")


def run(mini_batch):
    results = []
    for path in mini_batch:
        frame = pd.read_csv(path)
        for row, label in enumerate(model.predict(frame)):
            results.append({"file": os.path.basename(path), "row": row, "label": prefix + str(label)})
    return pd.DataFrame(results)

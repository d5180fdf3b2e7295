"""The batch scoring contract: init() once per worker process, run(mini_batch) per mini-batch: the
paths of its files for a uri_folder input, a pandas DataFrame of its rows for a table (an mltable
input, or a CSV uri_file). It returns one row per scored item."""
import os

import mlflow
import pandas as pd


def init():
    global model, prefix
    # AZUREML_MODEL_DIR holds the model's files (here an MLflow model folder).
    model = mlflow.pyfunc.load_model(os.environ["AZUREML_MODEL_DIR"])
    prefix = os.environ.get("LABEL_PREFIX", "")


def run(mini_batch):
    if isinstance(mini_batch, pd.DataFrame):
        # Rows of a table; the index is each row's position in the whole table.
        return pd.DataFrame({"row": mini_batch.index, "label": [prefix + str(label) for label in model.predict(mini_batch)]})
    results = []
    for path in mini_batch:
        frame = pd.read_csv(path)
        for row, label in enumerate(model.predict(frame)):
            results.append({"file": os.path.basename(path), "row": row, "label": prefix + str(label)})
    return pd.DataFrame(results)

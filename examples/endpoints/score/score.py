"""The score.py contract: init() once per process, run(raw_data) per request (the body as text)."""
import json
import os

import mlflow
import pandas as pd


def init():
    global model, prefix
    # AZUREML_MODEL_DIR holds the model's files (here an MLflow model folder).
    model = mlflow.sklearn.load_model(os.environ["AZUREML_MODEL_DIR"])
    prefix = os.environ.get("LABEL_PREFIX", "")


def run(raw_data):
    body = json.loads(raw_data)["input_data"]
    frame = pd.DataFrame(body["data"], columns=body["columns"])
    labels = model.predict(frame)
    confidence = model.predict_proba(frame).max(axis=1)
    return [{"label": prefix + str(label), "confidence": round(float(p), 4)} for label, p in zip(labels, confidence)]

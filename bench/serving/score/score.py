# The score.py deployment of the serving benchmark: the test's script without its sleep/crash hooks.
import json
import os

import mlflow
import pandas as pd


def init():
    global model
    model = mlflow.pyfunc.load_model(os.environ['AZUREML_MODEL_DIR'])


def run(raw_data):
    body = json.loads(raw_data)
    df = pd.DataFrame(body['input_data']['data'], columns=body['input_data']['columns'])
    return {'predictions': model.predict(df).tolist()}

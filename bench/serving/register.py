"""Logs and registers the benchmark's model with the real mlflow client (MLFLOW_TRACKING_URI: the Lapis
server), as test/integration/serving.test.ts does, then downloads the registered version's files so
that `mlflow models serve` serves the very same files. Prints one JSON line: the version and the folder.

    python register.py --out <dir>
"""
import argparse
import json
import os

import mlflow
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument('--out', required=True)
parser.add_argument('--name', default='iris-lr')
args = parser.parse_args()

X, y = load_iris(return_X_y=True, as_frame=True)
X.columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']
model = LogisticRegression(max_iter=500).fit(X, y)
with mlflow.start_run():
    info = mlflow.sklearn.log_model(model, name='model', signature=infer_signature(X, model.predict(X)), registered_model_name=args.name)
version = str(info.registered_model_version)
path = mlflow.artifacts.download_artifacts(artifact_uri='models:/%s/%s' % (args.name, version), dst_path=args.out)
if not os.path.isfile(os.path.join(path, 'MLmodel')):
    raise SystemExit('the download of models:/%s/%s holds no MLmodel file: %s' % (args.name, version, sorted(os.listdir(path))))
print(json.dumps({'name': args.name, 'version': version, 'model_dir': os.path.abspath(path)}))

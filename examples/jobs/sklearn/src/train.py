"""Train a classifier on <data>/iris.csv; metrics go to the job's MLflow run, the model to --model-dir."""

import argparse
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True, help="folder holding iris.csv")
parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
parser.add_argument("--test-size", type=float, default=0.25)
parser.add_argument("--model-dir", required=True, help="where the MLflow model is written")
args = parser.parse_args()

# start_run() resumes the job's own run (the job sets MLFLOW_RUN_ID), so autolog and log_metric land on it.
mlflow.autolog(log_models=False)
mlflow.start_run()

df = pd.read_csv(Path(args.data) / "iris.csv")
X, y = df.drop(columns="species"), df["species"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.test_size, random_state=42, stratify=y)
print(f"training on {len(X_train)} rows, testing on {len(X_test)}", flush=True)

model = make_pipeline(StandardScaler(), LogisticRegression(C=args.c, max_iter=1000)).fit(X_train, y_train)
predictions = model.predict(X_test)
mlflow.log_metric("test_accuracy", accuracy_score(y_test, predictions))
mlflow.log_metric("test_f1_macro", f1_score(y_test, predictions, average="macro"))
print(f"test accuracy {accuracy_score(y_test, predictions):.3f}", flush=True)

mlflow.sklearn.save_model(model, args.model_dir, input_example=X_test.head(3))
print(f"model saved to {args.model_dir}", flush=True)
mlflow.end_run()

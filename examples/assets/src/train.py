"""Train an iris classifier on <data>/iris.csv and save it as an MLflow model."""

import argparse
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--model", choices=["tree", "logistic"], default="tree")
parser.add_argument("--test-size", type=float, default=0.2)
parser.add_argument("--max-depth", type=int)
parser.add_argument("--out", required=True)
args = parser.parse_args()

df = pd.read_csv(Path(args.data) / "iris.csv")
X, y = df.drop(columns="species"), df["species"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.test_size, random_state=0)
model = DecisionTreeClassifier(max_depth=args.max_depth) if args.model == "tree" else LogisticRegression(max_iter=500)
model.fit(X_train, y_train)
mlflow.log_metric("accuracy", model.score(X_test, y_test))
mlflow.sklearn.save_model(model, args.out)

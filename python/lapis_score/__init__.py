"""Lapis scoring host: serves one instance of an online deployment over loopback HTTP.

The contract with the Lapis server is docs/scoring-host.md. The server starts it with the
deployment's environment's Python (not `-I`: the host needs that environment's site-packages):

    <env python> <lapis>/python/lapis_score/__main__.py

with LAPIS_SCORE_PORT, AZUREML_MODEL_DIR and, for a deployment with code, LAPIS_SCORING_SCRIPT and
LAPIS_CODE_DIR. It answers with the deployment's score.py (init() once, run(raw_data) per request),
or, without a scoring script, with the MLflow model in AZUREML_MODEL_DIR itself. Only the standard
library is imported up front; mlflow comes in when the no-code path needs it.

Exit status: 0 after SIGTERM, 2 for missing or invalid settings, 1 when the port cannot be bound.
"""

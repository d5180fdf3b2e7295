"""Times `MlflowClient.log_artifacts` of one folder to an MLflow server's artifact proxy.

The server runs with --artifacts-destination, so a new experiment's artifact root is
`mlflow-artifacts:/<id>` and the client PUTs every file through the server
(/api/2.0/mlflow-artifacts/artifacts/...), one after the other, as MLflow's
HttpArtifactRepository does. Each round logs the folder to a fresh run; only the log_artifacts
call is timed (imports, experiment and run creation are not).

Usage: mlflow_upload.py --tracking-uri URL --dir PATH [--rounds N]
Prints one JSON object on stdout's last line: {"seconds": [...], "bytes": N, "files": N}.
"""

import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(args.tracking_uri)
    client = MlflowClient(args.tracking_uri)
    exp_id = client.create_experiment(f"bench-upload-{int(time.time() * 1000)}")
    artifact_location = client.get_experiment(exp_id).artifact_location
    if not artifact_location.startswith("mlflow-artifacts:"):
        raise SystemExit(f"expected a proxied artifact root, got {artifact_location}")
    files, size = 0, 0
    for root, _, names in os.walk(args.dir):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(root, n))
    seconds = []
    runs = []
    for _ in range(max(1, min(args.rounds, 5))):
        run = client.create_run(exp_id)
        t0 = time.perf_counter()
        client.log_artifacts(run.info.run_id, args.dir)
        seconds.append(time.perf_counter() - t0)
        runs.append(run.info.run_id)
        listed = client.list_artifacts(run.info.run_id)
        if not listed:
            raise SystemExit("log_artifacts stored nothing")
    print(json.dumps({"seconds": seconds, "bytes": size, "files": files, "runs": runs, "artifact_location": artifact_location}))


if __name__ == "__main__":
    sys.exit(main())

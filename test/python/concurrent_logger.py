#!/usr/bin/env python3
"""One of several MLflow clients logging to one experiment at the same time (tracking-concurrency.test.ts).

Usage:
    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python concurrent_logger.py \\
        --experiment NAME --worker I --steps 500 --barrier DIR [--batch-steps 100] [--t0 MS]

After importing mlflow and resolving the experiment (mlflow.set_experiment: it is created if it does not
exist yet), the worker creates DIR/ready-<I> and waits for DIR/go, so that every worker starts logging at
the same moment. Then, in a run of its own named worker-<I>:

  params   20 through log_params (one log-batch request), plus "worker" through log_param
  tags     10 through set_tags (one log-batch request), plus "worker" through set_tag
  "loss"   log_metric in a loop: one request per step
  "acc", "lr"  MlflowClient.log_batch, --batch-steps steps (two metrics each) per request

Every value and timestamp is an exact function of (worker, step), recomputed by the test:
  loss = 1 / (step + 1) + worker / 8
  acc  = step / 1000 + worker
  lr   = 0.1 / (1 + step + worker)
  timestamp = t0 + worker * 100000 + step

stdout gets one JSON line: {"ok": true, "worker", "run_id", "experiment_id", "requests", "started", "finished"}
(started/finished: epoch ms around the logging). On any failure it is {"ok": false, "error": ...}, the
traceback goes to stderr and the exit code is 1. Run with MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 so a server
error fails the worker at once instead of being retried, and with MLFLOW_DISABLE_TELEMETRY=true.
"""

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

# Keep stdout for the JSON summary: the client otherwise prints "View run ..." links there.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
# No telemetry: besides calling home, its background thread sets and unsets an environment variable
# while requests iterates os.environ in another thread, which fails a request now and then (KeyError).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402


def loss(worker, step):
    return 1 / (step + 1) + worker / 8


def acc(worker, step):
    return step / 1000 + worker


def lr(worker, step):
    return 0.1 / (1 + step + worker)


def wait_for_go(barrier, worker, timeout_s=180):
    Path(barrier, f"ready-{worker}").touch()
    go = Path(barrier, "go")
    deadline = time.monotonic() + timeout_s
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker {worker}: no {go} after {timeout_s} s")
        time.sleep(0.005)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch-steps", type=int, default=100)
    parser.add_argument("--barrier", required=True)
    parser.add_argument("--t0", type=int, default=1_700_000_000_000)
    args = parser.parse_args()
    w = args.worker
    ts = lambda step: args.t0 + w * 100_000 + step  # noqa: E731

    client = MlflowClient()
    experiment = mlflow.set_experiment(args.experiment)
    wait_for_go(args.barrier, w)

    started = int(time.time() * 1000)
    requests = 0
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name=f"worker-{w}") as run:
        run_id = run.info.run_id
        requests += 1
        mlflow.log_params({f"param_{k}": f"w{w}-v{k}" for k in range(20)}, synchronous=True)
        mlflow.log_param("worker", w, synchronous=True)
        mlflow.set_tags({f"tag_{k}": f"w{w}-t{k}" for k in range(10)}, synchronous=True)
        mlflow.set_tag("worker", str(w), synchronous=True)
        requests += 4

        for step in range(args.steps):
            mlflow.log_metric("loss", loss(w, step), step=step, timestamp=ts(step), synchronous=True)
            requests += 1
            # Interleave the batches with the single-metric calls, so both kinds of write overlap.
            if (step + 1) % args.batch_steps == 0 or step == args.steps - 1:
                first = step - (step % args.batch_steps)
                metrics = []
                for s in range(first, step + 1):
                    metrics.append(Metric("acc", acc(w, s), ts(s), s))
                    metrics.append(Metric("lr", lr(w, s), ts(s), s))
                client.log_batch(run_id, metrics=metrics, synchronous=True)
                requests += 1
    requests += 1  # the end of the run (runs/update)
    finished = int(time.time() * 1000)
    print(
        json.dumps(
            {
                "ok": True,
                "worker": w,
                "run_id": run_id,
                "experiment_id": experiment.experiment_id,
                "requests": requests,
                "started": started,
                "finished": finished,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # noqa: BLE001 - report anything, including KeyboardInterrupt
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)

"""Seeds an MLflow SQLite tracking database directly, for the tracking benchmark.

Creating 100,000 runs through MLflow's REST API takes hours, so this script lets MLflow's own
SqlAlchemyStore create the schema (all migrations) and the experiments, then bulk-inserts rows
shaped exactly as SqlAlchemyStore.create_run / log_batch write them into `runs`, `tags`, `params`,
`metrics` and `latest_metrics`.

Usage: seed_mlflow.py --db PATH --runs-tsv PATH --history-steps N
Prints one JSON object on stdout's last line (experiment ids, the history run id, timings).
"""

import argparse
import json
import sqlite3
import sys
import time
import uuid

PARAM_KEYS = [f"p{i + 1}" for i in range(10)]
METRIC_KEYS = [f"m{i + 1}" for i in range(10)]
TAG_KEYS = [f"t{i + 1}" for i in range(5)]
HISTORY_T0 = 1_710_000_000_000
HISTORY_KEY = "loss"
RUN_NAME_TAG = "mlflow.runName"
USER = "bench"


def run_row(run_uuid, name, start, experiment_id, artifact_location):
    # Column for column what SqlAlchemyStore.create_run writes.
    return (
        run_uuid,
        name,
        "UNKNOWN",  # source_type
        "",  # source_name
        "",  # entry_point_name
        USER,
        "RUNNING",
        start,
        None,  # end_time
        "",  # source_version
        "active",
        f"{artifact_location.rstrip('/')}/{run_uuid}/artifacts",
        int(experiment_id),
        None,  # deleted_time
    )


RUN_COLUMNS = (
    "run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, "
    "end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time"
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs-tsv", required=True)
    ap.add_argument("--history-steps", type=int, required=True)
    args = ap.parse_args()

    t0 = time.perf_counter()
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # The server proxies artifacts (--artifacts-destination), so its experiments' roots are
    # mlflow-artifacts:/<id>; give the seeded ones the same.
    store = SqlAlchemyStore(f"sqlite:///{args.db}", "mlflow-artifacts:/")
    search_exp = store.create_experiment("bench-search")
    history_exp = store.create_experiment("bench-history")
    locations = {
        e: store.get_experiment(e).artifact_location for e in (search_exp, history_exp)
    }
    store.engine.dispose()
    t_schema = time.perf_counter() - t0

    t1 = time.perf_counter()
    con = sqlite3.connect(args.db)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA foreign_keys = ON")
    runs, params, tags, metrics = [], [], [], []
    n = 0
    with open(args.runs_tsv, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            name, start = cols[0], int(cols[1])
            p = cols[2:12]
            m = [float(v) for v in cols[12:22]]
            t = cols[22:27]
            run_uuid = uuid.uuid4().hex
            runs.append(run_row(run_uuid, name, start, search_exp, locations[search_exp]))
            params.extend((k, v, run_uuid) for k, v in zip(PARAM_KEYS, p))
            tags.extend((k, v, run_uuid) for k, v in zip(TAG_KEYS, t))
            tags.append((RUN_NAME_TAG, name, run_uuid))
            # Seeded metrics are logged at step 0 with the run's start time as timestamp.
            metrics.extend((k, v, start, run_uuid, 0, 0) for k, v in zip(METRIC_KEYS, m))
            n += 1

    history_run = uuid.uuid4().hex
    runs.append(run_row(history_run, "history", HISTORY_T0, history_exp, locations[history_exp]))
    tags.append((RUN_NAME_TAG, "history", history_run))
    history = [
        (HISTORY_KEY, (s % 1000) / 1000, HISTORY_T0 + s, history_run, s, 0)
        for s in range(args.history_steps)
    ]
    last = history[-1]

    with con:
        con.executemany(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({','.join('?' * 14)})", runs)
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        metric_sql = "(key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)"
        con.executemany(f"INSERT INTO metrics {metric_sql}", metrics)
        con.executemany(f"INSERT INTO latest_metrics {metric_sql}", metrics)
        con.executemany(f"INSERT INTO metrics {metric_sql}", history)
        con.execute(f"INSERT INTO latest_metrics {metric_sql}", last)
    con.close()
    t_rows = time.perf_counter() - t1

    print(
        json.dumps(
            {
                "search_experiment_id": str(search_exp),
                "history_experiment_id": str(history_exp),
                "history_run_id": history_run,
                "runs": n,
                "schema_seconds": t_schema,
                "rows_seconds": t_rows,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())

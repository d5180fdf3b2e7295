"""Seeds an MLflow SQLite database's model registry directly, for the registry benchmark.

Registering 100,000 model versions through MLflow's REST API takes far too long, so this script
lets MLflow's own model-registry SqlAlchemyStore create the schema (all migrations), then
bulk-inserts rows shaped as SqlAlchemyStore.create_registered_model / create_model_version write
them into `registered_models`, `model_versions` and `model_version_tags` (workspace 'default').

Usage: seed_mlflow.py --db PATH --versions-tsv PATH
The TSV holds one version a line: name, version, created (ms), source, stage, team, ticket.
Prints one JSON object on stdout's last line (counts, timings).
"""

import argparse
import json
import sqlite3
import sys
import time

WORKSPACE = "default"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--versions-tsv", required=True)
    args = ap.parse_args()

    t0 = time.perf_counter()
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{args.db}")
    store.engine.dispose()
    t_schema = time.perf_counter() - t0

    t1 = time.perf_counter()
    con = sqlite3.connect(args.db)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA foreign_keys = ON")
    # Only columns this MLflow's schema has (3.x added `workspace`); fail loudly if it changed.
    mv_cols = {r[1] for r in con.execute("PRAGMA table_info(model_versions)")}
    rm_cols = {r[1] for r in con.execute("PRAGMA table_info(registered_models)")}
    tag_cols = {r[1] for r in con.execute("PRAGMA table_info(model_version_tags)")}
    for needed, have, table in (
        ({"workspace", "storage_location", "last_updated_time"}, mv_cols, "model_versions"),
        ({"workspace", "last_updated_time"}, rm_cols, "registered_models"),
        ({"workspace", "key", "value"}, tag_cols, "model_version_tags"),
    ):
        missing = needed - have
        if missing:
            raise SystemExit(f"{table} lacks columns {sorted(missing)}: MLflow's schema changed")

    models = {}  # name -> [created, last_updated]
    versions, tags = [], []
    with open(args.versions_tsv, encoding="utf-8") as f:
        for line in f:
            name, version, created, source, stage, team, ticket = line.rstrip("\n").split("\t")
            version, created = int(version), int(created)
            m = models.get(name)
            if m is None:
                # create_registered_model at the model's time: one minute slot, versions follow.
                models[name] = [created - version * 1000, created]
            else:
                m[1] = max(m[1], created)
            # Column for column what create_model_version writes (no run, user or description).
            versions.append(
                (
                    name,
                    version,
                    created,  # creation_time
                    created,  # last_updated_time
                    None,  # description
                    None,  # user_id
                    "None",  # current_stage
                    source,
                    None,  # run_id
                    "READY",  # status
                    None,  # status_message
                    None,  # run_link
                    source,  # storage_location (a plain URI source is stored as is)
                    WORKSPACE,
                )
            )
            tags.extend(
                (
                    ("stage", stage, name, version, WORKSPACE),
                    ("team", team, name, version, WORKSPACE),
                    ("ticket", ticket, name, version, WORKSPACE),
                )
            )

    with con:
        con.executemany(
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) "
            "VALUES (?, ?, ?, NULL, ?)",
            [(n, c, u, WORKSPACE) for n, (c, u) in models.items()],
        )
        con.executemany(
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, "
            "user_id, current_stage, source, run_id, status, status_message, run_link, "
            "storage_location, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            versions,
        )
        con.executemany(
            "INSERT INTO model_version_tags (key, value, name, version, workspace) VALUES (?, ?, ?, ?, ?)",
            tags,
        )
    con.close()
    t_rows = time.perf_counter() - t1

    print(
        json.dumps(
            {
                "models": len(models),
                "versions": len(versions),
                "tags": len(tags),
                "schema_seconds": t_schema,
                "rows_seconds": t_rows,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())

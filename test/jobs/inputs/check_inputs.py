"""Checks what a job receives for each kind of input, and writes both kinds of output.

Prints one line `RESULT <json>` that the integration test reads from the job's log.
"""
import argparse
import json
import os
import stat
import sys

p = argparse.ArgumentParser()
p.add_argument("--local-file")
p.add_argument("--local-folder")
p.add_argument("--asset")
p.add_argument("--asset-file")
p.add_argument("--url")
p.add_argument("--model")
p.add_argument("--job-output")
p.add_argument("--direct")
p.add_argument("--ds-folder")
p.add_argument("--ds-file")
p.add_argument("--lr", type=float)
p.add_argument("--flag")
p.add_argument("--seed")
p.add_argument("--out-dir")
p.add_argument("--out-file")
a = p.parse_args()


def writable(path):
    # Tests run as root, which ignores permission bits: look at the bits themselves.
    mode = os.stat(path).st_mode
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def read(path):
    with open(path) as f:
        return f.read()


result = {
    "argv": sys.argv[1:],
    "local_file": read(a.local_file).strip(),
    "local_file_writable": writable(a.local_file),
    "local_folder": sorted(os.listdir(a.local_folder)),
    "local_folder_writable": writable(a.local_folder),
    "asset": sorted(os.listdir(a.asset)),
    "asset_writable": writable(os.path.join(a.asset, sorted(os.listdir(a.asset))[0])),
    "asset_file": read(a.asset_file).splitlines()[0],
    "url": read(a.url).strip(),
    "model": sorted(os.listdir(a.model)),
    "job_output": sorted(os.listdir(a.job_output)),
    "direct": a.direct,
    "ds_folder": sorted(os.listdir(a.ds_folder)),
    "ds_file": read(a.ds_file).strip(),
    "lr": a.lr,
    "flag": a.flag,
    "seed": a.seed,
    "env": os.environ.get("GREETING"),
    "mlflow_run_id": os.environ.get("MLFLOW_RUN_ID"),
    "out_dir_exists": os.path.isdir(a.out_dir),
    "out_file_parent_exists": os.path.isdir(os.path.dirname(a.out_file)),
}
with open(os.path.join(a.out_dir, "summary.json"), "w") as f:
    json.dump(result, f)
with open(a.out_file, "w") as f:
    f.write("one file\n")
print("RESULT " + json.dumps(result), flush=True)

"""Logs a metric to the job's run through the real mlflow client (no tracking setup in the code) and writes an output."""
import os
import sys

import mlflow

mlflow.log_metric("answer", 42.0)
mlflow.set_tag("written_by", "job")
with open(os.path.join(sys.argv[1], "out.txt"), "w") as f:
    f.write("done\n")
print("logged to run", mlflow.active_run().info.run_id, flush=True)

"""Lapis batch driver: the command of a batch endpoint's job (see docs/endpoints.md, "Batch endpoints").

The server submits a command job whose command runs, in the deployment's environment,

    python <driver>/lapis_batch/__main__.py --data <input> --input-type uri_folder|uri_file|mltable
        --model <model folder> --output <output folder> [--scoring-script score.py] <settings>

It splits the input into mini-batches (the files of a uri_folder; the rows of a CSV, TSV, Parquet or
JSON-lines uri_file; the rows of an mltable's table, whose plan is in BATCH_MLTABLE_PLAN), scores
them in worker processes (instances x max_concurrency_per_instance), retries a mini-batch that fails
or outlives the timeout, counts failed items against the error threshold, and writes the rows to
<output>/<output file name> (when the threshold fails the job, the rows of the mini-batches that
succeeded). Progress goes to the job's log and, as metrics, to the job's MLflow run; why a job
failed, to LAPIS_JOB_ERROR_FILE (the job's error). Exit status: 0 when the job succeeded (failures
within the threshold included), 1 when it failed, 2 for bad arguments.
"""

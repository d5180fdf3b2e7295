"""One scoring worker process: loads the scoring code once, then scores the mini-batches the driver
sends it over a pipe (one JSON line each way), writing each one's rows to a part file.

Its stdout and stderr are the job's log, so whatever score.py prints shows up there; the pipe is a
pair of inherited descriptors named by LAPIS_BATCH_PIPES."""
import json
import logging
import os
import sys
import traceback

from lapis_batch import items as items_mod
from lapis_batch import rows as rows_mod
from lapis_batch import table as table_mod


class Scorer:
    def __init__(self, cfg):
        self.cfg = cfg
        self.data = cfg['data']
        self.mltable = cfg['input_type'] == 'mltable'
        self.tabular = self.mltable or (cfg['input_type'] == 'uri_file' and items_mod.is_table(self.data))
        self._table = None  # (frame, the source file of each row)
        if cfg.get('scoring_script'):
            from lapis_score.script import ScoringScript
            self.script = ScoringScript(cfg['scoring_script'], os.getcwd())
            self.model = None
        else:
            from lapis_score.mlflow_model import MlflowModel
            self.script = None
            self.model = MlflowModel(cfg['model'])

    def initialize(self):
        (self.script or self.model).initialize()

    def table(self):
        """Read once per worker: every mini-batch of a tabular input is a slice of it."""
        if self._table is None:
            if self.mltable:
                table = table_mod.load(self.data, self.cfg['table'])
                self._table = (table.frame, table.sources)
            else:
                frame = items_mod.read_table(self.data)
                self._table = (frame, [os.path.basename(self.data)] * len(frame))
        return self._table

    def score(self, request):
        """The rows of one mini-batch: `files` (paths relative to the folder) or rows [start, stop) of the table."""
        if self.tabular:
            start, stop = request['start'], request['stop']
            frame, sources = self.table()
            frame = frame.iloc[start:stop]
            if self.script:
                return rows_mod.result_rows(self.script.run(frame))
            return rows_mod.prediction_rows(self.model.predict(frame), sources[start:stop], start)
        paths = [os.path.join(self.data, f) for f in request['files']] if self.cfg['input_type'] == 'uri_folder' else [self.data]
        if self.script:
            return rows_mod.result_rows(self.script.run(paths))
        out = []
        for name, path in zip(request['files'], paths):
            frame = items_mod.read_table(path)
            out.extend(rows_mod.prediction_rows(self.model.predict(frame), [name] * len(frame), 0))
        return out


def _error(e):
    return '%s: %s' % (type(e).__name__, str(e).strip().split('\n')[0][:500])


def main():
    cfg = json.loads(os.environ['LAPIS_BATCH_WORKER'])
    fd_in, fd_out = (int(x) for x in os.environ['LAPIS_BATCH_PIPES'].split(','))
    requests = os.fdopen(fd_in, 'r', encoding='utf-8')
    answers = os.fdopen(fd_out, 'w', encoding='utf-8', buffering=1)
    logging.basicConfig(level=getattr(logging, cfg.get('logging_level', 'info').upper(), logging.INFO),
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s', stream=sys.stderr)

    def answer(message):
        answers.write(json.dumps(message) + '\n')

    try:
        scorer = Scorer(cfg)
        scorer.initialize()
    except BaseException as e:  # init() raising SystemExit is a failed init too
        answer({'ready': False, 'error': _error(e), 'traceback': traceback.format_exc()})
        return 1
    answer({'ready': True})
    for line in requests:
        request = json.loads(line)
        try:
            rows = scorer.score(request)
            part = os.path.join(cfg['parts'], 'part-%08d.jsonl' % request['index'])
            rows_mod.write_part(part, rows)
            answer({'index': request['index'], 'ok': True, 'rows': len(rows), 'part': part})
        except Exception as e:
            answer({'index': request['index'], 'ok': False, 'error': _error(e), 'traceback': traceback.format_exc()})
    return 0


if __name__ == '__main__':
    sys.exit(main())

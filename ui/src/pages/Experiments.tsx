import { useState } from 'react';
import type { Experiment } from '../../../src/client/index.js';
import { AsyncView, Empty } from '../components/States.js';
import { VirtualTable } from '../components/VirtualTable.js';
import { fmtTime } from '../lib/format.js';
import { Link, navigate, paths } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { useAsync } from '../lib/use-async.js';

export default function ExperimentsPage() {
  const { client, workspace } = useSession();
  const [q, setQ] = useState('');
  const state = useAsync(async () => {
    const all: Experiment[] = [];
    for await (const e of client.experiments.searchAll({ orderBy: ['last_update_time DESC'] })) all.push(e);
    return all;
  }, [client]);
  return (
    <section className="page">
      <div className="page-head">
        <h1>Experiments</h1>
        <span className="spacer" />
        <label htmlFor="filter" className="sr-only">
          Find an experiment
        </label>
        <input id="filter" className="find" placeholder="Find by name (/)" value={q} onChange={(e) => setQ(e.target.value)} autoComplete="off" />
      </div>
      <AsyncView state={state} what="Loading experiments">
        {(all) => {
          const shown = all.filter((e) => e.name.toLowerCase().includes(q.toLowerCase()));
          if (all.length === 0) return <Empty title="No experiments yet">mlflow.set_experiment("name") creates one.</Empty>;
          if (shown.length === 0) return <Empty title={`No experiment name contains “${q}”`} />;
          return (
            <VirtualTable
              label="Experiments"
              rowCount={shown.length}
              row={(i) => shown[i]}
              rowKey={(e, i) => e?.experiment_id ?? String(i)}
              onOpen={(e) => navigate(paths.experiment(workspace, e.experiment_id))}
              height={Math.min(600, 40 + shown.length * 32)}
              columns={[
                {
                  id: 'name',
                  header: 'Name',
                  width: 320,
                  cell: (e) => (
                    <Link to={paths.experiment(workspace, e.experiment_id)} tabIndex={-1}>
                      {e.name}
                    </Link>
                  ),
                },
                { id: 'id', header: 'Id', width: 80, cell: (e) => e.experiment_id },
                { id: 'created', header: 'Created', width: 190, cell: (e) => fmtTime(e.creation_time) },
                { id: 'updated', header: 'Last update', width: 190, cell: (e) => fmtTime(e.last_update_time) },
              ]}
            />
          );
        }}
      </AsyncView>
    </section>
  );
}

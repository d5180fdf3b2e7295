import type { LineageNode, ModelVersion } from '../../../src/client/index.js';
import { LineageGraph } from '../components/LineageGraph.js';
import { AsyncView, Empty } from '../components/States.js';
import { KeyValueTable } from '../components/KeyValueTable.js';
import { VirtualTable } from '../components/VirtualTable.js';
import { fmtBytes, fmtTime } from '../lib/format.js';
import { Link, navigate, paths, useLocation, withQuery } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { onTabListKeyDown } from '../lib/keys.js';
import { useAsync } from '../lib/use-async.js';

export function ModelsPage() {
  const { client, workspace } = useSession();
  const state = useAsync(() => client.models.list(), [client]);
  return (
    <section className="page">
      <div className="page-head">
        <h1>Models</h1>
      </div>
      <AsyncView state={state} what="Loading models">
        {(models) =>
          models.length === 0 ? (
            <Empty title="No registered models yet">mlflow.register_model(…) or lapis model create -f model.yml registers one.</Empty>
          ) : (
            <VirtualTable
              label="Models"
              rowCount={models.length}
              row={(i) => models[i]}
              rowKey={(m, i) => m?.name ?? String(i)}
              onOpen={(m) => navigate(paths.model(workspace, m.name))}
              height={Math.min(600, 40 + models.length * 32)}
              columns={[
                {
                  id: 'name',
                  header: 'Name',
                  width: 260,
                  cell: (m) => (
                    <Link to={paths.model(workspace, m.name)} tabIndex={-1}>
                      {m.name}
                    </Link>
                  ),
                },
                { id: 'latest', header: 'Latest', width: 80, cell: (m) => m.latest_versions.map((v) => v.version).sort((a, b) => Number(b) - Number(a))[0] ?? '' },
                { id: 'aliases', header: 'Aliases', width: 240, cell: (m) => m.aliases.map((a) => `@${a.alias} → ${a.version}`).join(', ') },
                { id: 'updated', header: 'Updated', width: 190, cell: (m) => fmtTime(m.last_updated_timestamp) },
              ]}
            />
          )
        }
      </AsyncView>
    </section>
  );
}

function VersionDetail({ name, version }: { name: string; version: ModelVersion }) {
  const { client, workspace } = useSession();
  const lineage = useAsync(() => client.models.lineage(name, version.version), [client, name, version.version]);
  const files = useAsync(() => client.models.files(name, version.version), [client, name, version.version]);
  const href = (n: LineageNode): string | undefined =>
    n.kind === 'run' && n.ref ? paths.run(workspace, n.ref) : n.kind === 'experiment' && n.ref ? paths.experiment(workspace, n.ref) : n.kind === 'data' && n.ref ? paths.asset(workspace, 'data', n.label.split(':')[0] as string, n.label.split(':')[1]) : undefined;
  return (
    <>
      <div className="grid2">
        <section className="card">
          <h2>
            Version {version.version} {version.aliases.map((a) => <span key={a} className="badge">@{a}</span>)}
          </h2>
          <KeyValueTable
            rows={[
              ['Created', `${fmtTime(version.creation_timestamp)} ${version.user_id ? `by ${version.user_id}` : ''}`],
              ['Type', version.model_type ?? 'mlflow_model'],
              ['Stage', version.current_stage],
              ['Source', <code>{version.source}</code>],
              version.run_id ? ['Run', <Link to={paths.run(workspace, version.run_id)}>{version.run_id}</Link>] : null,
              ...version.tags.map((t) => [t.key, t.value] as const),
            ]}
          />
        </section>
        <section className="card">
          <h2>Files</h2>
          <AsyncView state={files} what="Listing files">
            {(f) => (
              <ul className="files">
                {f.files.map((x) => (
                  <li key={x.path}>
                    {x.path} <span className="hint">{fmtBytes(x.size)}</span>
                  </li>
                ))}
              </ul>
            )}
          </AsyncView>
        </section>
      </div>
      <section className="card">
        <h2>Lineage</h2>
        <AsyncView state={lineage} what="Tracing lineage">
          {(g) => (
            <div className="scroll-x">
              <LineageGraph graph={g} href={href} />
            </div>
          )}
        </AsyncView>
      </section>
    </>
  );
}

export function ModelPage({ name }: { name: string }) {
  const { client, workspace } = useSession();
  const loc = useLocation();
  const state = useAsync(() => client.models.versions(name, { includeArchived: true }), [client, name]);
  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={paths.models(workspace)}>Models</Link> / <span>{name}</span>
      </nav>
      <div className="page-head">
        <h1>{name}</h1>
      </div>
      <AsyncView state={state} what="Loading versions">
        {(versions) => {
          const sorted = [...versions].sort((a, b) => Number(b.version) - Number(a.version));
          const chosen = sorted.find((v) => v.version === loc.query.get('version')) ?? sorted[0];
          if (!chosen) return <Empty title="No versions" />;
          return (
            <>
              <div className="tabs" role="tablist" onKeyDown={onTabListKeyDown} aria-label="Versions">
                {sorted.map((v) => (
                  <button key={v.version} type="button" role="tab" aria-selected={v === chosen} tabIndex={v === chosen ? 0 : -1} onClick={() => navigate(withQuery(loc, { version: v.version }), { replace: true })}>
                    {v.version}
                    {v.aliases.length ? ` @${v.aliases.join(' @')}` : ''}
                    {v.archived ? ' (archived)' : ''}
                  </button>
                ))}
              </div>
              <VersionDetail key={chosen.version} name={name} version={chosen} />
            </>
          );
        }}
      </AsyncView>
    </section>
  );
}

import { useState } from 'react';
import type { AssetVersion, AssetsApi, LapisClient } from '../../../src/client/index.js';
import { parseDelimited } from '../components/ArtifactPreview.js';
import { AsyncView, Empty, ErrorView } from '../components/States.js';
import { KeyValueTable } from '../components/KeyValueTable.js';
import { VirtualTable } from '../components/VirtualTable.js';
import { fmtBytes, fmtNumber, fmtTime } from '../lib/format.js';
import { profileColumns } from '../lib/profile.js';
import { Link, navigate, paths, useLocation, withQuery, type AssetKind } from '../lib/router.js';
import { useSession } from '../lib/session.js';
import { onTabListKeyDown } from '../lib/keys.js';
import { useAsync } from '../lib/use-async.js';

const TITLES: Record<AssetKind, string> = { data: 'Data assets', environments: 'Environments', components: 'Components' };
const HOW: Record<AssetKind, string> = {
  data: 'lapis data create -f data.yml registers one.',
  environments: 'lapis environment create -f environment.yml registers one.',
  components: 'lapis component create -f component.yml registers one.',
};
const api = (client: LapisClient, kind: AssetKind): AssetsApi => (kind === 'data' ? client.data : kind === 'environments' ? client.environments : client.components);

export function AssetsPage({ kind }: { kind: AssetKind }) {
  const { client, workspace } = useSession();
  const state = useAsync(() => api(client, kind).list(), [client, kind]);
  return (
    <section className="page">
      <div className="page-head">
        <h1>{TITLES[kind]}</h1>
      </div>
      <AsyncView state={state} what={`Loading ${TITLES[kind].toLowerCase()}`}>
        {(assets) =>
          assets.length === 0 ? (
            <Empty title={`No ${TITLES[kind].toLowerCase()} yet`}>{HOW[kind]}</Empty>
          ) : (
            <VirtualTable
              label={TITLES[kind]}
              rowCount={assets.length}
              row={(i) => assets[i]}
              rowKey={(a, i) => a?.name ?? String(i)}
              onOpen={(a) => navigate(paths.asset(workspace, kind, a.name))}
              height={Math.min(600, 40 + assets.length * 32)}
              columns={[
                {
                  id: 'name',
                  header: 'Name',
                  width: 260,
                  cell: (a) => (
                    <Link to={paths.asset(workspace, kind, a.name)} tabIndex={-1}>
                      {a.name}
                    </Link>
                  ),
                },
                { id: 'version', header: 'Latest', width: 80, cell: (a) => a.version },
                { id: 'type', header: 'Type', width: 120, cell: (a) => String(a.spec.type ?? (kind === 'environments' ? (a.spec.image ? 'image' : 'conda') : '')) },
                { id: 'description', header: 'Description', width: 320, cell: (a) => a.description ?? '' },
                { id: 'created', header: 'Created', width: 190, cell: (a) => fmtTime(a.created_at) },
              ]}
            />
          )
        }
      </AsyncView>
    </section>
  );
}

/** The first rows of a data asset's first CSV/TSV file, and a profile of each column. */
function DataPreview({ name, version }: { name: string; version: string }) {
  const { client } = useSession();
  const state = useAsync(async (signal) => {
    const { files } = await client.data.files(name, version);
    const table = files.find((f) => /\.(csv|tsv)$/i.test(f.path));
    if (!table) return { files, table: undefined };
    const res = await client.data.openFile(name, version, table.path, { signal });
    // The first 256 KB hold far more than the rows shown; the rest of a big file is not read.
    const reader = res.body?.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (reader && text.length < 256 * 1024) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    await reader?.cancel();
    const [columns = [], ...rows] = parseDelimited(text, /\.tsv$/i.test(table.path) ? '\t' : ',', 1000);
    return { files, table: { path: table.path, columns, rows: rows.filter((r) => r.length === columns.length) } };
  }, [client, name, version]);
  return (
    <AsyncView state={state} what="Reading the data">
      {({ files, table }) => (
        <>
          <section className="card">
            <h2>
              Files <span className="hint">{files.length}</span>
            </h2>
            <ul className="files">
              {files.slice(0, 200).map((f) => (
                <li key={f.path}>
                  {f.path} <span className="hint">{fmtBytes(f.size)}</span>
                </li>
              ))}
            </ul>
          </section>
          {table ? (
            <>
              <section className="card">
                <h2>
                  Preview <span className="hint">{table.path}, the first {Math.min(20, table.rows.length)} rows</span>
                </h2>
                <div className="scroll-x">
                  <table className="data" data-testid="data-preview">
                    <thead>
                      <tr>
                        {table.columns.map((c, i) => (
                          <th key={i}>{c}</th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {table.rows.slice(0, 20).map((r, i) => (
                        <tr key={i}>
                          {r.map((v, j) => (
                            <td key={j}>{v}</td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </section>
              <section className="card">
                <h2>
                  Column profile <span className="hint">over the first {table.rows.length.toLocaleString()} rows</span>
                </h2>
                <div className="scroll-x">
                  <table className="data" data-testid="data-profile">
                    <thead>
                      <tr>
                        <th>Column</th>
                        <th>Type</th>
                        <th className="num">Missing</th>
                        <th className="num">Distinct</th>
                        <th className="num">Min</th>
                        <th className="num">Mean</th>
                        <th className="num">Max</th>
                        <th>Most frequent</th>
                      </tr>
                    </thead>
                    <tbody>
                      {profileColumns(table.columns, table.rows).map((p) => (
                        <tr key={p.name}>
                          <th scope="row">{p.name}</th>
                          <td>{p.type}</td>
                          <td className="num">{p.missing}</td>
                          <td className="num">{p.distinct}</td>
                          <td className="num">{fmtNumber(p.min)}</td>
                          <td className="num">{fmtNumber(p.mean)}</td>
                          <td className="num">{fmtNumber(p.max)}</td>
                          <td>{p.top?.map((t) => `${t.value} (${t.count})`).join(', ')}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </section>
            </>
          ) : (
            <Empty title="No CSV or TSV file to preview" />
          )}
        </>
      )}
    </AsyncView>
  );
}

/**
 * An environment is built by the first job that uses it (then reused from the cache): its build
 * log is the build stream of that job's log. The oldest job with build lines is shown.
 */
function EnvironmentBuildLog({ asset }: { asset: AssetVersion }) {
  const { client, workspace } = useSession();
  const state = useAsync(async () => {
    const jobs = (await client.jobs.list({ includeArchived: true, maxResults: 1000 })).filter((j) => j.environment === asset.reference).sort((a, b) => a.created_at - b.created_at);
    for (const job of jobs.slice(0, 5)) {
      const build = (await client.jobs.logs(job.name)).entries.filter((e) => e.stream === 'build');
      if (build.length > 0) return { job: job.name, text: build.map((e) => e.text).join(''), used: jobs.length };
    }
    return { job: undefined, text: '', used: jobs.length };
  }, [client, asset.reference]);
  return (
    <section className="card">
      <h2>Build log</h2>
      <AsyncView state={state} what="Looking for the build">
        {(b) =>
          b.job ? (
            <>
              <p className="hint">
                Built for job <Link to={paths.job(workspace, b.job)}>{b.job}</Link>; {b.used} job{b.used === 1 ? '' : 's'} used this version.
              </p>
              <pre className="file" data-testid="build-log">
                {b.text}
              </pre>
            </>
          ) : (
            <p className="hint">{b.used ? 'The jobs that used it found it already built (a cached environment with the same content).' : 'No job has used this version yet: the first one builds it.'}</p>
          )
        }
      </AsyncView>
    </section>
  );
}

function VersionDetail({ kind, asset }: { kind: AssetKind; asset: AssetVersion }) {
  return (
    <>
      <div className="grid2">
        <section className="card">
          <h2>Version {asset.version}</h2>
          <KeyValueTable
            rows={[
              ['Reference', <code>{asset.reference}</code>],
              ['Created', `${fmtTime(asset.created_at)} by ${asset.created_by}`],
              asset.description ? ['Description', asset.description] : null,
              ...Object.entries(asset.tags),
              asset.content_hash ? ['Content', <code>{asset.content_hash.slice(0, 16)}</code>] : null,
            ]}
          />
        </section>
        <section className="card">
          <h2>Spec</h2>
          <pre className="file" data-testid="asset-spec">
            {JSON.stringify(asset.spec, null, 2)}
          </pre>
        </section>
      </div>
      {kind === 'data' ? <DataPreview name={asset.name} version={asset.version} /> : null}
      {kind === 'environments' ? <EnvironmentBuildLog asset={asset} /> : null}
    </>
  );
}

export function AssetPage({ kind, name }: { kind: AssetKind; name: string }) {
  const { client, workspace } = useSession();
  const loc = useLocation();
  const [archived, setArchived] = useState(false);
  const state = useAsync(() => api(client, kind).list({ name, includeArchived: archived }), [client, kind, name, archived]);
  return (
    <section className="page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to={paths.assets(workspace, kind)}>{TITLES[kind]}</Link> / <span>{name}</span>
      </nav>
      <div className="page-head">
        <h1>{name}</h1>
        <span className="spacer" />
        <label>
          <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> Archived versions too
        </label>
      </div>
      <AsyncView state={state} what="Loading versions">
        {(versions) => {
          const chosen = versions.find((v) => v.version === loc.query.get('version')) ?? versions[0];
          if (!chosen) return <ErrorView error={new Error(`No versions of '${name}'.`)} />;
          return (
            <>
              <div className="tabs" role="tablist" onKeyDown={onTabListKeyDown} aria-label="Versions">
                {versions.map((v) => (
                  <button key={v.version} type="button" role="tab" aria-selected={v === chosen} tabIndex={v === chosen ? 0 : -1} onClick={() => navigate(withQuery(loc, { version: v.version }), { replace: true })}>
                    {v.version}
                    {v.archived ? ' (archived)' : ''}
                  </button>
                ))}
              </div>
              <VersionDetail key={chosen.version} kind={kind} asset={chosen} />
            </>
          );
        }}
      </AsyncView>
    </section>
  );
}

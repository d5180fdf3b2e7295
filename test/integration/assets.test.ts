/**
 * Azure ML assets through the built CLI (`dist/cli/lapis.js`, run as a subprocess with LAPIS_URL):
 * data, environments, components and models from YAML; versions, references, content dedup,
 * immutability, archiving, failed uploads, schema errors, model lineage from a real MLflow run,
 * and registries shared across workspaces. On SQLite + files and on PostgreSQL + S3.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadSpec } from '../../src/specs/index.js';
import { runCli, type CliResult } from '../support/cli.js';
import { python, startLapis, type LapisServer } from '../support/server.js';

const BACKENDS = [
  { backend: 'sqlite', artifacts: 'file' },
  { backend: 'postgres', artifacts: 's3' },
] as const;


interface Asset {
  kind: string;
  name: string;
  version: string;
  spec: Record<string, unknown>;
  content_hash?: string;
  archived: boolean;
  reference: string;
  scope: string;
  lineage?: { shared_from?: { workspace: string; name: string; version: string } };
}

interface ModelVersion {
  name: string;
  version: string;
  source: string;
  run_id?: string;
  model_type?: string;
  description?: string;
  tags: { key: string; value: string }[];
  lineage?: { root: string; nodes: { id: string; kind: string; label: string; ref?: string }[]; edges: { from: string; to: string; kind: string }[] };
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function manifestHash(files: { path: string; sha256: string; size: number }[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) h.update(`${f.path}\0${f.sha256}\0${f.size}\n`);
  return h.digest('hex');
}

/** Every file below `dir`, as sorted `/`-separated relative paths. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe.each(BACKENDS)('assets on $backend + $artifacts', ({ backend, artifacts }) => {
  let server: LapisServer;
  let work: string;

  /** Runs `lapis <args>` against the test server, from the work folder. */
  function lapis(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return runCli(args, { url: server.url, cwd: work, env });
  }

  /** Runs the CLI with `-o json`, expects exit 0, returns the parsed output. */
  async function lapisJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
    const res = await lapis([...args, '-o', 'json'], env);
    expect(res.code, `lapis ${args.join(' ')}\n${res.stderr}`).toBe(0);
    return JSON.parse(res.stdout) as T;
  }

  async function api<T = unknown>(method: string, path: string, body?: unknown, raw?: { body: Buffer; headers: Record<string, string> }): Promise<{ status: number; body: T }> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: raw ? raw.headers : body === undefined ? {} : { 'content-type': 'application/json' },
      ...(raw ? { body: raw.body } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Writes files below the work folder. */
  async function put(files: Record<string, string | Buffer>): Promise<void> {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(work, path)), { recursive: true });
      await writeFile(join(work, path), content);
    }
  }

  const specOf = <K extends 'data' | 'environment' | 'component' | 'model'>(kind: K, file: string, text: string) => loadSpec(kind, text, { file });

  beforeAll(async () => {
    server = await startLapis({ backend, artifacts });
    work = await mkdtemp(join(tmpdir(), 'lapis-assets-'));
  });
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  // ---------------------------------------------------------------- data

  const irisCsv = 'sepal_length,species\n5.1,setosa\n7.0,versicolor\n6.3,virginica\n';
  const irisYaml = [
    '# the iris sample',
    'name: iris',
    'description: Iris sample',
    'path: ./iris',
    'tags:',
    '  source: uci',
    '  rows: 3',
    '',
  ].join('\n');

  it('data: YAML round trip with defaults, auto-versions, .amlignore, dedup of identical content, download', async () => {
    await put({ 'iris/iris.csv': irisCsv, 'iris/sub/more.csv': 'a,b\n1,2\n', 'iris/scratch.tmp': 'ignored', 'iris/.amlignore': '*.tmp\n', 'iris.yml': irisYaml });

    const first = await lapis(['data', 'create', '-f', 'iris.yml', '-o', 'json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/uploaded 3 files/);
    const v1 = JSON.parse(first.stdout) as Asset;
    expect(v1).toMatchObject({ kind: 'data', name: 'iris', version: '1', reference: 'azureml:iris:1', archived: false });
    // The stored spec is the YAML with defaults (type: uri_folder), numbers in tags as strings, the version filled in.
    const expected = { ...specOf('data', 'iris.yml', irisYaml), version: '1' };
    expect(expected).toMatchObject({ type: 'uri_folder', tags: { source: 'uci', rows: '3' } });
    const shown = await lapisJson<Asset>(['data', 'show', 'iris:1']);
    expect(shown.spec).toEqual(expected);
    expect(shown.content_hash).toBe(v1.content_hash);

    const files = await api<{ files: { path: string; size: number }[] }>('GET', '/api/v1/data/iris/versions/1/files');
    expect(files.body.files.map((f) => f.path).sort()).toEqual(['.amlignore', 'iris.csv', 'sub/more.csv']);

    // The same folder again, no version: version 2, nothing uploaded, the same content.
    const second = await lapis(['data', 'create', '-f', 'iris.yml', '-o', 'json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain('unchanged, reusing stored content');
    const v2 = JSON.parse(second.stdout) as Asset;
    expect(v2.version).toBe('2');
    expect(v2.content_hash).toBe(v1.content_hash);
    const stored = await api<{ exists: boolean; files: number }>('GET', `/api/v1/content/${v1.content_hash}`);
    expect(stored.body).toMatchObject({ exists: true, files: 3 });

    const download = await lapisJson<{ local_path: string; files: { path: string }[] }>(['data', 'download', 'iris:2', '--dest', 'dl']);
    expect(download.local_path).toBe(join(work, 'dl', 'iris'));
    expect(await filesUnder(join(work, 'dl', 'iris'))).toEqual(['.amlignore', 'iris.csv', join('sub', 'more.csv')]);
    expect(await readFile(join(work, 'dl', 'iris', 'iris.csv'), 'utf8')).toBe(irisCsv);

    const list = await lapisJson<Asset[]>(['data', 'list']);
    expect(list.map((a) => `${a.name}:${a.version}`)).toEqual(['iris:2']);
    const table = await lapis(['data', 'list', '--name', 'iris']);
    expect(table.stdout).toMatch(/^NAME\s+VERSION\s+TYPE\s+PATH\s+CREATED\n/);
    expect(table.stdout).toMatch(/^iris\s+2\s+uri_folder\s+\.\/iris\s/m);
  });

  it('data: uri_file uploads one file; a local path must exist and fit the type', async () => {
    await put({ 'one/points.csv': 'x\n1\n', 'file.yml': 'name: points\ntype: uri_file\npath: one/points.csv\n', 'wrong.yml': 'name: points\ntype: uri_file\npath: ./one\n' });
    const created = await lapisJson<Asset>(['data', 'create', '-f', 'file.yml']);
    expect(created.version).toBe('1');
    const files = await api<{ files: { path: string }[] }>('GET', '/api/v1/data/points/versions/1/files');
    expect(files.body.files.map((f) => f.path)).toEqual(['points.csv']);

    const wrong = await lapis(['data', 'create', '-f', 'wrong.yml']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`type: uri_file needs a file, but path './one' (${join(work, 'one')}) is a folder`);

    await put({ 'gone.yml': 'name: gone\npath: ./not/here\n', 'mlt.yml': 'name: tbl\ntype: mltable\npath: ./one\n' });
    const missing = await lapis(['data', 'create', '-f', 'gone.yml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(work, 'not', 'here'));
    const mltable = await lapis(['data', 'create', '-f', 'mlt.yml']);
    expect(mltable.code).toBe(2);
    expect(mltable.stderr).toContain(`${join(work, 'one', 'MLTable')} does not exist`);
    expect((await api<{ data: Asset[] }>('GET', '/api/v1/data?name=gone')).body.data).toEqual([]);
  });

  it('references: azureml:n:v, n@latest and azureml:n@latest through /api/v1/resolve and show', async () => {
    for (const [ref, version] of [
      ['azureml:iris:1', '1'],
      ['iris:1', '1'],
      ['iris@latest', '2'],
      ['azureml:iris@latest', '2'],
      ['azureml:iris', '2'],
    ] as const) {
      const resolved = await api<Asset>('GET', `/api/v1/resolve?kind=data&ref=${encodeURIComponent(ref)}`);
      expect(resolved.status, ref).toBe(200);
      expect(resolved.body.version, ref).toBe(version);
      const shown = await lapisJson<Asset>(['data', 'show', ref]);
      expect(shown.version, ref).toBe(version);
    }
    expect((await lapisJson<Asset>(['data', 'show', '--name', 'iris', '--version', '1'])).version).toBe('1');
    expect((await lapisJson<Asset>(['data', 'show', '--name', 'iris', '--label', 'latest'])).version).toBe('2');

    const unknown = await lapis(['data', 'show', 'iris:9']);
    expect(unknown.code).toBe(3);
    const bad = await lapis(['data', 'show', 'azureml://registries/shared/models/iris/versions/1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('but a reference to data is expected here');
  });

  it('immutability: the same version with other content is refused (ALREADY_EXISTS), and the stored bytes stay', async () => {
    await put({ 'frozen/a.txt': 'original', 'frozen.yml': 'name: frozen\nversion: 1\npath: ./frozen\n' });
    await lapisJson(['data', 'create', '-f', 'frozen.yml']);
    await put({ 'frozen/a.txt': 'changed!' });
    const again = await lapis(['data', 'create', '-f', 'frozen.yml']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error: data frozen:1 already exists and versions are immutable/);

    // The server refuses it too, whatever the client does.
    const direct = await api<{ error: { code: string } }>('POST', '/api/v1/data', { spec: { name: 'frozen', version: '1', path: 'https://example.com/frozen.csv', type: 'uri_file' } });
    expect(direct.status).toBe(400);
    expect(direct.body.error.code).toBe('ALREADY_EXISTS');

    await lapisJson(['data', 'download', 'frozen:1', '--dest', 'frozen-dl']);
    expect(await readFile(join(work, 'frozen-dl', 'frozen', 'a.txt'), 'utf8')).toBe('original');
  });

  it('archive hides a version from list and @latest; the explicit version still resolves; restore brings it back', async () => {
    const archived = await lapisJson<Asset>(['data', 'archive', 'iris:2']);
    expect(archived.archived).toBe(true);
    expect((await lapisJson<Asset[]>(['data', 'list'])).find((a) => a.name === 'iris')?.version).toBe('1');
    expect((await lapisJson<Asset[]>(['data', 'list', '--name', 'iris'])).map((a) => a.version)).toEqual(['1']);
    expect((await lapisJson<Asset[]>(['data', 'list', '--name', 'iris', '--include-archived'])).map((a) => a.version)).toEqual(['2', '1']);
    expect((await lapisJson<Asset>(['data', 'show', 'iris@latest'])).version).toBe('1');
    expect((await api<Asset>('GET', '/api/v1/resolve?kind=data&ref=azureml:iris@latest')).body.version).toBe('1');
    const explicit = await lapisJson<Asset>(['data', 'show', 'azureml:iris:2']);
    expect(explicit).toMatchObject({ version: '2', archived: true });

    const noVersion = await lapis(['data', 'archive', 'iris']);
    expect(noVersion.code).toBe(2);
    expect(noVersion.stderr).toContain('Name the version to archive');

    await lapisJson(['data', 'restore', 'iris:2']);
    expect((await lapisJson<Asset>(['data', 'show', 'iris@latest'])).version).toBe('2');
  });

  it('a failed upload leaves no asset: a commit with a wrong size is refused, and nothing can use it', async () => {
    const before = await lapisJson<Asset[]>(['data', 'list', '--include-archived']);
    const body = Buffer.from('half an upload');
    const file = { path: 'part.bin', sha256: sha(body), size: body.length };
    const hash = manifestHash([file]);
    const putRes = await api('PUT', `/api/v1/content/${hash}/files/part.bin`, undefined, { body, headers: { 'content-type': 'application/octet-stream', 'x-lapis-sha256': file.sha256 } });
    expect(putRes.status).toBe(200);

    // A body that does not match its declared hash is refused.
    const corrupt = await api('PUT', `/api/v1/content/${hash}/files/other.bin`, undefined, { body: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream', 'x-lapis-sha256': file.sha256 } });
    expect(corrupt.status).toBe(400);

    const wrongSize = [{ ...file, size: file.size + 1 }];
    const commit = await api<{ error: { message: string } }>('POST', `/api/v1/content/${manifestHash(wrongSize)}/commit`, { files: wrongSize });
    expect(commit.status).toBe(400);
    expect(commit.body.error.message).toMatch(/incomplete|missing|not/);
    expect((await api<{ exists: boolean }>('GET', `/api/v1/content/${manifestHash(wrongSize)}`)).body.exists).toBe(false);
    expect((await api<{ exists: boolean }>('GET', `/api/v1/content/${hash}`)).body.exists).toBe(false);

    const create = await api('POST', '/api/v1/data', { spec: { name: 'half', path: './half' }, content: hash });
    expect(create.status).toBe(400);
    expect(await lapisJson<Asset[]>(['data', 'list', '--include-archived'])).toEqual(before);
  });

  it('direct uploads: on the server\'s machine the CLI copies files into a file store; S3 stores and LAPIS_DIRECT_UPLOAD=0 go over HTTP', async () => {
    const big = randomBytes(3 << 20);
    await put({ 'direct/big.bin': big, 'direct/nested/small.txt': 'small', 'direct.yml': 'name: direct\npath: ./direct\n' });
    const viaDirect = artifacts === 'file';
    const first = await lapis(['data', 'create', '-f', 'direct.yml', '-o', 'json']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/uploaded 2 files/);
    expect(first.stderr.includes("copied straight into the server's store")).toBe(viaDirect);
    await put({ 'direct/nested/small.txt': 'changed' });
    const second = await lapis(['data', 'create', '-f', 'direct.yml', '-o', 'json'], { LAPIS_DIRECT_UPLOAD: '0' });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/uploaded 2 files \(3\.0 MiB\) as content [0-9a-f]{12}\.\n/);
    for (const [version, small] of [['1', 'small'], ['2', 'changed']] as const) {
      await lapisJson(['data', 'download', `direct:${version}`, '--dest', `direct-dl-${version}`]);
      expect((await readFile(join(work, `direct-dl-${version}`, 'direct', 'big.bin'))).equals(big)).toBe(true);
      expect(await readFile(join(work, `direct-dl-${version}`, 'direct', 'nested', 'small.txt'), 'utf8')).toBe(small);
    }

    // 64 MiB or more never hashed: the copy runs while the files are hashed. A second upload of the
    // same folder with an empty hash cache copies again, learns the server holds it, and throws the copy away.
    await put({ 'large/part.bin': randomBytes(65 << 20), 'large.yml': 'name: large\npath: ./large\n' });
    const freshCache = { LAPIS_CONFIG_DIR: await mkdtemp(join(work, 'cli-config-')) };
    const large = await lapis(['data', 'create', '-f', 'large.yml', '-o', 'json'], freshCache);
    expect(large.code, large.stderr).toBe(0);
    expect(large.stderr.includes("copied straight into the server's store")).toBe(viaDirect);
    const again = await lapis(['data', 'create', '-f', 'large.yml', '-o', 'json'], { LAPIS_CONFIG_DIR: await mkdtemp(join(work, 'cli-config-')) });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/unchanged, reusing stored content/);
    expect((JSON.parse(again.stdout) as Asset).content_hash).toBe((JSON.parse(large.stdout) as Asset).content_hash);
    if (viaDirect) expect(await readdir(join(server.dataDir, 'artifacts', '.uploads'))).toEqual([]);
    await lapisJson(['data', 'download', 'large:2', '--dest', 'large-dl']);
    expect(sha(await readFile(join(work, 'large-dl', 'large', 'part.bin')))).toBe(sha(await readFile(join(work, 'large', 'part.bin'))));

    const opened = await api<{ direct: boolean; id?: string; dir?: string; reason?: string }>('POST', '/api/v1/content/uploads');
    expect(opened.status).toBe(200);
    if (!viaDirect) {
      expect(opened.body).toEqual({ direct: false, reason: 'the artifact store is not a local folder' });
      const refused = await api<{ error: { message: string } }>('POST', `/api/v1/content/${'0'.repeat(64)}/commit`, { files: [{ path: 'a', sha256: '0'.repeat(64), size: 1 }], direct: '0'.repeat(32) });
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toMatch(/no direct uploads: upload the files over HTTP/);
      return;
    }
    // A staged file that is not what the commit declares: refused, the staging folder removed, nothing stored.
    const { id, dir } = opened.body as { id: string; dir: string };
    expect(dir.startsWith(join(server.dataDir, 'artifacts'))).toBe(true);
    await writeFile(join(dir, 'part.bin'), 'short');
    const file = { path: 'part.bin', sha256: sha('longer than that'), size: 16 };
    const hash = manifestHash([file]);
    const commit = await api<{ error: { message: string } }>('POST', `/api/v1/content/${hash}/commit`, { files: [file], direct: id });
    expect(commit.status).toBe(400);
    expect(commit.body.error.message).toMatch(/'part.bin' is 5 bytes, not 16/);
    expect((await api<{ exists: boolean }>('GET', `/api/v1/content/${hash}`)).body.exists).toBe(false);
    expect(await readdir(join(server.dataDir, 'artifacts', '.uploads'))).toEqual([]);
    const badId = await api<{ error: { message: string } }>('DELETE', '/api/v1/content/uploads/not-an-id');
    expect(badId.status).toBe(400);
    expect(badId.body.error.message).toMatch(/Invalid direct upload id/);
  });

  it('schema errors: every error with file:line:col, exit 2, nothing created', async () => {
    await put({
      'broken.yml': ['name: broken', 'typo_key: 1', 'type: uri_thing', 'path: ./iris', 'tags: [a]', ''].join('\n'),
      'syntax.yml': 'name: broken\npath: [unclosed\n',
      'comp-bad.yml': [
        'name: Bad-Name',
        'command: python x.py ${{inputs.lr}} ${{inputs.nope}}',
        'inputs:',
        '  lr:',
        '    type: number',
        '    optional: true',
        '    min: 5',
        '    default: 1',
        '',
      ].join('\n'),
    });
    const res = await lapis(['data', 'create', '-f', 'broken.yml']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('error: broken.yml has 3 errors:');
    expect(res.stderr).toContain("  broken.yml:2:1 typo_key: unknown key 'typo_key'");
    expect(res.stderr).toContain('  broken.yml:3:7 type: must be one of uri_folder, uri_file, mltable');
    expect(res.stderr).toContain('  broken.yml:5:7 tags: must be a mapping');

    const syntax = await lapis(['data', 'create', '-f', 'syntax.yml']);
    expect(syntax.code).toBe(2);
    expect(syntax.stderr).toMatch(/syntax\.yml:\d+:\d+ \(root\): YAML syntax error/);

    const set = await lapis(['data', 'create', '-f', 'iris.yml', '--set', 'type=folder']);
    expect(set.code).toBe(2);
    expect(set.stderr).toContain('(from --set type=folder)');

    const comp = await lapis(['component', 'create', '-f', 'comp-bad.yml']);
    expect(comp.code).toBe(2);
    expect(comp.stderr).toContain('comp-bad.yml:1:7 name:');
    expect(comp.stderr).toContain("comp-bad.yml:2:10 command: optional input 'lr' is used outside $[[ ... ]]");
    expect(comp.stderr).toContain('${{inputs.nope}} is not a declared input');
    expect(comp.stderr).toContain('comp-bad.yml:8:14 inputs.lr.default: 1 is below min 5');

    const missing = await lapis(['data', 'create', '-f', 'nope.yml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(work, 'nope.yml'));

    expect((await api<{ data: Asset[] }>('GET', '/api/v1/data?name=broken')).body.data).toEqual([]);
    expect((await api<{ components: Asset[] }>('GET', '/api/v1/components')).body.components).toEqual([]);
  });

  // ---------------------------------------------------------------- environments, components

  const envYaml = ['# sklearn on slim python', 'name: sklearn-env', 'image: python:3.11-slim', 'conda_file: ./env/conda.yml', 'python: 3.11', ''].join('\n');
  const condaYaml = ['name: sk', 'channels: [conda-forge]', 'dependencies:', '  - python=3.11', '  - pip:', '      - scikit-learn==1.5.2', ''].join('\n');

  it('environment: conda_file read and inlined; round trip; versions and references', async () => {
    await put({ 'env.yml': envYaml, 'env/conda.yml': condaYaml });
    const created = await lapisJson<Asset>(['environment', 'create', '-f', 'env.yml']);
    expect(created).toMatchObject({ name: 'sklearn-env', version: '1', reference: 'azureml:sklearn-env:1' });
    const expected = { ...specOf('environment', 'env.yml', envYaml), conda_file: YAML.parse(condaYaml) as unknown, version: '1' };
    expect(expected).toMatchObject({ os_type: 'linux', python: '3.11' });
    const shown = await lapisJson<Asset>(['environment', 'show', 'sklearn-env:1']);
    expect(shown.spec).toEqual(expected);

    const v2 = await lapisJson<Asset>(['environment', 'create', '-f', 'env.yml', '--set', 'image=python:3.12-slim']);
    expect(v2.version).toBe('2');
    expect((await api<Asset>('GET', '/api/v1/resolve?kind=environment&ref=azureml:sklearn-env@latest')).body.version).toBe('2');
    expect((await lapisJson<Asset>(['environment', 'show', 'azureml:sklearn-env:1'])).spec.image).toBe('python:3.11-slim');

    await put({ 'env-bad.yml': 'name: e\nimage: x\nconda_file: ./env/missing.yml\n', 'env/broken.yml': 'dependencies: [a\n', 'env-broken.yml': 'name: e\nimage: x\nconda_file: ./env/broken.yml\n' });
    const missing = await lapis(['environment', 'create', '-f', 'env-bad.yml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(join(work, 'env', 'missing.yml'));
    const broken = await lapis(['environment', 'create', '-f', 'env-broken.yml']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/\.\/env\/broken\.yml:\d+:\d+ YAML syntax error/);
  });

  it('component: code uploaded as content; typed inputs round trip with defaults', async () => {
    const compYaml = [
      '# train',
      'name: train_model',
      'display_name: Train',
      'code: ./src',
      'environment: azureml:sklearn-env@latest',
      'command: >-',
      '  python train.py --data ${{inputs.data}} --model ${{inputs.kind}}',
      '  --lr ${{inputs.lr}} $[[--depth ${{inputs.depth}}]] --out ${{outputs.model}}',
      'inputs:',
      '  data: {type: uri_folder}',
      '  kind: {type: string, enum: [tree, linear], default: tree}',
      '  lr: {type: number, min: 0.001, max: 1, default: 0.1}',
      '  depth: {type: integer, optional: true, min: 1}',
      'outputs:',
      '  model: {type: mlflow_model}',
      '',
    ].join('\n');
    await put({ 'component.yml': compYaml, 'src/train.py': 'print("train")\n', 'src/.gitignore': '__pycache__/\n', 'src/__pycache__/x.pyc': 'bytecode' });
    const created = await lapisJson<Asset>(['component', 'create', '-f', 'component.yml']);
    expect(created).toMatchObject({ name: 'train_model', version: '1' });
    expect(created.content_hash).toMatch(/^[0-9a-f]{64}$/);
    const expected = { ...specOf('component', 'component.yml', compYaml), version: '1' };
    expect(expected).toMatchObject({ type: 'command', is_deterministic: true, inputs: { depth: { optional: true }, lr: { optional: false } } });
    const shown = await lapisJson<Asset>(['component', 'show', 'train_model@latest']);
    expect(shown.spec).toEqual(expected);
    const files = await api<{ files: { path: string }[] }>('GET', '/api/v1/components/train_model/versions/1/files');
    expect(files.body.files.map((f) => f.path).sort()).toEqual(['.gitignore', 'train.py']);

    const table = await lapis(['component', 'show', 'train_model:1']);
    expect(table.stdout).toMatch(/^\s+depth\s+integer\s+-\s+yes\s+min 1$/m);
    expect(table.stdout).toMatch(/^\s+kind\s+string\s+tree\s+no\s+one of tree\|linear$/m);
  });

  // ---------------------------------------------------------------- models

  const modelFiles: Record<string, Buffer> = { 'churn-model/weights.bin': randomBytes(300_000), 'churn-model/config/params.json': Buffer.from('{"depth": 3}') };

  it('model: a local folder uploaded, round trip, versions, download with equal bytes', async () => {
    const modelYaml = ['# churn', 'name: churn', 'path: ./churn-model', 'description: Churn model', 'tags: {team: growth}', ''].join('\n');
    await put({ ...modelFiles, 'model.yml': modelYaml });
    const created = await lapisJson<ModelVersion>(['model', 'create', '-f', 'model.yml']);
    const spec = specOf('model', 'model.yml', modelYaml);
    expect(created).toMatchObject({ name: spec.name, version: '1', model_type: spec.type, description: spec.description, tags: [{ key: 'team', value: 'growth' }] });
    expect(created.source).toMatch(/^mlflow-artifacts:\/content\/[0-9a-f]{64}$/);
    const shown = await lapisJson<ModelVersion>(['model', 'show', 'churn:1']);
    expect(shown).toMatchObject({ name: 'churn', version: '1', model_type: 'custom_model', description: 'Churn model' });

    const again = await lapis(['model', 'create', '-f', 'model.yml', '-o', 'json']);
    expect(again.stderr).toContain('unchanged, reusing stored content');
    expect((JSON.parse(again.stdout) as ModelVersion).version).toBe('2');
    expect((await lapisJson<ModelVersion>(['model', 'show', 'churn@latest'])).version).toBe('2');
    expect((await lapisJson<ModelVersion[]>(['model', 'list', '--name', 'churn'])).map((v) => v.version)).toEqual(['2', '1']);

    const exists = await lapis(['model', 'create', '-f', 'model.yml', '--set', 'version=1']);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toContain('already exists');

    await lapisJson(['model', 'download', 'churn:1', '--dest', 'model-dl']);
    for (const [path, bytes] of Object.entries(modelFiles)) {
      expect((await readFile(join(work, 'model-dl', 'churn', path.slice('churn-model/'.length)))).equals(bytes), path).toBe(true);
    }

    await lapisJson(['model', 'archive', 'churn:2']);
    expect((await lapisJson<ModelVersion>(['model', 'show', 'churn@latest'])).version).toBe('1');
    await lapisJson(['model', 'restore', '--name', 'churn', '--version', '2']);

    await put({ 'mlflow-bad.yml': 'name: m\ntype: mlflow_model\npath: ./churn-model\n' });
    const notMlflow = await lapis(['model', 'create', '-f', 'mlflow-bad.yml']);
    expect(notMlflow.code).toBe(2);
    expect(notMlflow.stderr).toContain(`${join(work, 'churn-model', 'MLmodel')} does not exist`);
  });

  let lineageModel: ModelVersion;

  it('model lineage: a run logged with the real mlflow client, registered with lapis model create from runs:/', async () => {
    const experiment = `lineage-${randomBytes(3).toString('hex')}`;
    const res = await python('test/python/lineage_run.py', [experiment, 'azureml:iris:1'], { MLFLOW_TRACKING_URI: server.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    expect(res.code, `${res.stdout}\n${res.stderr.slice(-3000)}`).toBe(0);
    const run = JSON.parse(res.stdout.trim().split('\n').pop() as string) as { run_id: string; experiment_id: string };

    await put({ 'from-run.yml': '# a run\'s model\nname: iris-clf\ntype: mlflow_model\npath: runs:/RUN_ID/model\n' });
    const created = await lapisJson<ModelVersion>(['model', 'create', '-f', 'from-run.yml', '--set', `path=runs:/${run.run_id}/model`]);
    expect(created).toMatchObject({ name: 'iris-clf', version: '1', run_id: run.run_id, source: `runs:/${run.run_id}/model` });
    // MLflow 3 wrote the model to the run's logged model: the version points at its files.
    expect((created as ModelVersion & { model_id?: string }).model_id).toMatch(/^m-[0-9a-f]{32}$/);
    const files = (await (await fetch(`${server.url}/api/v1/models/iris-clf/versions/1/files`)).json()) as { files: { path: string }[] };
    expect(files.files.map((f) => f.path)).toContain('MLmodel');

    lineageModel = await lapisJson<ModelVersion>(['model', 'show', 'iris-clf:1', '--lineage']);
    const g = lineageModel.lineage;
    expect(g?.root).toBe('model:iris-clf:1');
    const node = (kind: string) => g?.nodes.find((n) => n.kind === kind);
    expect(node('run')).toMatchObject({ ref: run.run_id, label: 'train-iris' });
    expect(node('experiment')).toMatchObject({ label: experiment, ref: run.experiment_id });
    expect(node('environment')).toMatchObject({ ref: 'azureml:sklearn-env:1' });
    expect(node('code')?.ref).toMatch(/^[0-9a-f]{64}$/);
    expect(g?.edges).toContainEqual({ from: 'model:iris-clf:1', to: `run:${run.run_id}`, kind: 'produced_by' });
    expect(g?.edges).toContainEqual({ from: `run:${run.run_id}`, to: node('experiment')?.id, kind: 'in_experiment' });
    // The run's dataset is in the graph either way (see the next test for how it should look).
    expect(g?.nodes.some((n) => (n.kind === 'data' || n.kind === 'dataset') && (n.ref ?? '').includes('azureml:iris:1'))).toBe(true);

    const tree = await lapis(['model', 'show', 'iris-clf:1', '--lineage']);
    expect(tree.stdout).toContain('Lineage\n  model iris-clf:1 (azureml:iris-clf:1)');
    expect(tree.stdout).toMatch(/└─ produced by: run train-iris \([0-9a-f]{32}\)\n\s+├─ in experiment: experiment lineage-/);
    expect(tree.stdout).toContain('ran in: environment azureml:sklearn-env:1');
  });

  // MLflow clients send a dataset's source as JSON (`{"uri": "azureml:iris:1"}`); the lineage reads it.
  it('model lineage: the logged azureml:iris:1 dataset is a data-asset node', () => {
    expect(lineageModel.lineage?.nodes).toContainEqual({ id: 'data:iris:1', kind: 'data', label: 'iris:1', ref: 'azureml:iris:1' });
  });

  // ---------------------------------------------------------------- registries

  it('registry: share a model and an environment, then use them from a second workspace', async () => {
    const reg = await lapisJson<{ name: string }>(['registry', 'create', 'shared', '--description', 'Team registry']);
    expect(reg.name).toBe('shared');
    expect((await lapisJson<{ name: string }[]>(['registry', 'list'])).map((r) => r.name)).toEqual(['shared']);

    const shared = await lapisJson<ModelVersion>(['model', 'share', '--name', 'churn', '--version', '1', '--registry', 'shared', '--share-with-name', 'churn', '--share-with-version', '1']);
    expect(shared).toMatchObject({ name: 'churn', version: '1' });
    await lapisJson(['workspace', 'create', 'second']);
    const ws2 = { LAPIS_WORKSPACE: 'second' };

    const uri = 'azureml://registries/shared/models/churn/versions/1';
    expect(await lapisJson<ModelVersion>(['model', 'show', uri], ws2)).toMatchObject({ name: 'churn', version: '1', model_type: 'custom_model' });
    expect((await lapis(['model', 'show', 'churn:1'], ws2)).code).toBe(3);
    await lapisJson(['model', 'download', uri, '--dest', 'from-registry'], ws2);
    for (const [path, bytes] of Object.entries(modelFiles)) {
      expect((await readFile(join(work, 'from-registry', 'churn', path.slice('churn-model/'.length)))).equals(bytes), path).toBe(true);
    }
    const withLineage = await lapisJson<ModelVersion>(['model', 'show', '--registry', 'shared', 'churn:1', '--lineage'], ws2);
    expect(withLineage.lineage?.edges).toContainEqual({ from: 'model:churn:1', to: 'shared:default:churn:1', kind: 'shared_from' });
    const tree = await lapis(['model', 'show', '--registry', 'shared', 'churn:1', '--lineage'], ws2);
    expect(tree.stdout).toContain('└─ shared from: model default/churn:1');
    expect(tree.stdout).toContain('Shared from:   workspace default: churn:1');

    const env = await lapisJson<Asset>(['environment', 'share', 'sklearn-env:1', '--registry', 'shared']);
    expect(env.reference).toBe('azureml://registries/shared/environments/sklearn-env/versions/1');
    const envUri = 'azureml://registries/shared/environments/sklearn-env/versions/1';
    const resolved = await api<Asset>('GET', `/workspaces/second/api/v1/resolve?kind=environment&ref=${encodeURIComponent(envUri)}`);
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ name: 'sklearn-env', version: '1', scope: 'registry/shared', lineage: { shared_from: { workspace: 'default', name: 'sklearn-env', version: '1' } } });
    const envShown = await lapisJson<Asset>(['environment', 'show', envUri], ws2);
    expect(envShown.spec.image).toBe('python:3.11-slim');
    expect(envShown.lineage?.shared_from).toEqual({ workspace: 'default', name: 'sklearn-env', version: '1' });
    expect((await lapisJson<Asset>(['environment', 'show', 'azureml://registries/shared/environments/sklearn-env@latest'], ws2)).version).toBe('1');
    expect((await lapisJson<Asset[]>(['environment', 'list', '--registry', 'shared'], ws2)).map((a) => a.name)).toEqual(['sklearn-env']);

    const missingRegistry = await lapis(['model', 'share', 'churn:1', '--registry', 'nope']);
    expect(missingRegistry.code).toBe(3);
  });
});

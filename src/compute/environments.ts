/**
 * What a job's environment means on local compute: a virtual environment built from a Python
 * constraint and a pip list (keyed by their hash, built once per machine by the task runner), or
 * the host's Python. Conda specs are translated: `python=3.11` becomes the constraint, other conda
 * packages become pip requirements (`numpy=1.26` → `numpy==1.26.*`), and the pip section is kept.
 */
import { createHash } from 'node:crypto';
import { LapisError, invalid } from '../core/errors.js';
import type { AssetService, AssetView } from '../registry/assets.js';
import { parseAssetRef, type InlineEnvironmentSpec } from '../specs/index.js';
import { canonical } from '../registry/assets.js';

export interface TaskEnvironment {
  kind: 'host' | 'venv';
  hash?: string;
  python: string | null;
  pip: string[];
  name: string;
  note: string | null;
}

interface EnvironmentLike {
  image?: unknown;
  conda_file?: unknown;
  build?: unknown;
  python?: unknown;
}

/**
 * Azure ML's curated environments by name (case-insensitive prefix match after `AzureML-`), mapped
 * to pip sets of the same libraries: existing job files that name them run unchanged.
 */
const CURATED: { prefix: string; pip: string[] }[] = [
  { prefix: 'sklearn', pip: ['scikit-learn', 'pandas', 'numpy', 'scipy', 'mlflow', 'joblib'] },
  { prefix: 'lightgbm', pip: ['lightgbm', 'scikit-learn', 'pandas', 'numpy', 'mlflow'] },
  { prefix: 'xgboost', pip: ['xgboost', 'scikit-learn', 'pandas', 'numpy', 'mlflow'] },
  { prefix: 'pytorch', pip: ['torch', 'numpy', 'pandas', 'mlflow'] },
  { prefix: 'acpt-pytorch', pip: ['torch', 'numpy', 'pandas', 'mlflow'] },
  { prefix: 'tensorflow', pip: ['tensorflow', 'numpy', 'pandas', 'mlflow'] },
  { prefix: 'minimal', pip: [] },
  { prefix: 'mlflow', pip: ['mlflow', 'pandas', 'numpy'] },
];

/** The curated pip set a name like `AzureML-sklearn-1.5-ubuntu22.04-py39-cpu` stands for, if any. */
export function curatedEnvironment(name: string): TaskEnvironment | undefined {
  const m = /^azureml-(.+)$/i.exec(name);
  if (!m) return undefined;
  const rest = (m[1] as string).toLowerCase();
  const entry = CURATED.find((c) => rest === c.prefix || rest.startsWith(`${c.prefix}-`));
  if (!entry) return undefined;
  // The image's Python version (`-py39-`) is not pinned: any local Python 3 runs these libraries.
  return venvEnvironment(`curated ${name}`, null, entry.pip);
}

/** A virtual environment keyed by what it holds (its Python constraint and pip list), not by its name. */
export function venvEnvironment(name: string, python: string | null, pip: string[]): TaskEnvironment {
  const hash = createHash('sha256').update(canonical({ python, pip })).digest('hex');
  return { kind: 'venv', hash, python, pip, name, note: null };
}

/**
 * An MLflow model's own environment, as Azure ML builds it for a no-code deployment: the pip lines
 * of its requirements.txt and the Python version of its python_env.yaml, plus `extra` packages.
 */
export function mlflowModelEnvironment(name: string, requirements: string, pythonEnv: string, extra: string[] = []): TaskEnvironment {
  const { python, pip } = modelRequirements(requirements, pythonEnv);
  return venvEnvironment(name, python, [...pip, ...extra]);
}

const CONDA_SPEC = /^([A-Za-z0-9_.-]+)\s*(?:(==|=|>=|<=|>|<|!=|~=)\s*([^\s=<>!~]+))?$/;

/** `numpy=1.26` (conda's prefix match) → `numpy==1.26.*`; `numpy>=1.2` as is; channels (`conda-forge::x`) dropped. */
function condaToPip(spec: string): string {
  const bare = spec.includes('::') ? spec.slice(spec.indexOf('::') + 2) : spec;
  const m = CONDA_SPEC.exec(bare.trim());
  if (!m) throw invalid(`Conda dependency '${spec}' cannot be installed with pip; write it as a pip requirement under dependencies: - pip: [...].`);
  const [, name, op, version] = m;
  if (!op) return name as string;
  if (op === '=') return `${name}==${version?.endsWith('*') ? version : `${version}.*`}`;
  return `${name}${op}${version}`;
}

/** Conda packages that are tools of conda itself, not libraries of the job. */
const CONDA_TOOLS = new Set(['pip', 'setuptools', 'wheel', 'python']);

export function fromEnvironmentSpec(name: string, spec: EnvironmentLike): TaskEnvironment {
  let python = spec.python === undefined || spec.python === null ? null : String(spec.python);
  const pip: string[] = [];
  const conda = spec.conda_file;
  if (conda && typeof conda === 'object') {
    for (const dep of (conda as { dependencies?: unknown[] }).dependencies ?? []) {
      if (typeof dep === 'string') {
        const pythonPin = /^python\s*(?:=+|>=|<=|~=)?\s*([0-9][0-9.*]*)?$/.exec(dep.trim());
        if (pythonPin) {
          python ??= pythonPin[1]?.replace(/\.\*$/, '') ?? null;
          continue;
        }
        const pkg = condaToPip(dep);
        if (!CONDA_TOOLS.has(pkg.split(/[=<>!~]/)[0] as string)) pip.push(pkg);
      } else if (dep && typeof dep === 'object' && Array.isArray((dep as { pip?: unknown }).pip)) {
        pip.push(...((dep as { pip: unknown[] }).pip.map(String)));
      }
    }
  } else if (typeof conda === 'string') {
    throw invalid(`Environment ${name} names its conda file by path ('${conda}'); the server cannot read it. Create the environment with the CLI, which sends the file inline.`);
  }
  if (conda) return venvEnvironment(name, python, pip);
  const kind = spec.build ? 'a Docker build context' : `image ${String(spec.image)}`;
  return { kind: 'host', python, pip: [], name, note: `environment ${name} is ${kind}: local compute runs it with the host Python (cluster backends run the image)` };
}

/** The pip lines of an MLflow model's requirements.txt and the Python version of its python_env.yaml. */
export function modelRequirements(requirements: string, pythonEnv: string): { python: string | null; pip: string[] } {
  const pip = requirements
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('-'));
  return { python: /^python:\s*"?(\d+\.\d+)/m.exec(pythonEnv)?.[1] ?? null, pip };
}

/** A job without an environment runs with the host Python. */
export const HOST_ENVIRONMENT: TaskEnvironment = { kind: 'host', python: null, pip: [], name: 'host Python', note: null };

/** A job's or deployment's `environment:` (omitted, a reference, a curated name, or inline) as what runs it. */
export async function environmentOf(workspace: string, environment: string | InlineEnvironmentSpec | undefined, assets: AssetService): Promise<TaskEnvironment> {
  if (environment === undefined) return HOST_ENVIRONMENT;
  if (typeof environment === 'object') return fromEnvironmentSpec('inline environment', environment);
  let asset: AssetView;
  try {
    asset = await assets.resolve(workspace, 'environment', environment);
  } catch (err) {
    if (!(err instanceof LapisError) || err.code !== 'NOT_FOUND') throw err;
    const curated = curatedEnvironment(parseAssetRef(environment, 'environments').name);
    if (curated) return curated;
    throw err;
  }
  return fromEnvironmentSpec(asset.reference, asset.spec);
}

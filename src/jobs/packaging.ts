/**
 * `lapis model package`: a scikit-learn MLflow model converted to ONNX by a Lapis job. The job runs
 * python/lapis_package/convert.py in the model's own environment (its requirements plus skl2onnx,
 * onnx and onnxruntime), so the conversion gets what every job has: a live log, a run with the
 * check's figures, and its output registered as a model version whose lineage leads to the run and
 * from there to the source version. What can be known before converting is checked here, so a
 * model that cannot be packaged is refused at once and nothing is created.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalid } from '../core/errors.js';
import { formatAssetRef } from '../specs/references.js';
import { mlflowModelEnvironment } from '../compute/environments.js';
import { manifestHash, type ContentStore } from '../registry/content.js';
import { onnxInputProblem, parseMlModel } from '../registry/mlmodel.js';
import { scopeOf, type ModelAssets } from '../registry/model-assets.js';
import type { Workspace } from '../workspaces/service.js';
import type { JobService, JobView } from './service.js';

/** The job's code: the converter, and the python_function loader it ships with models that have text columns. */
const CONVERTER_FILES = ['convert.py', 'onnx_columns.py'];
const CONVERTER_DIR = fileURLToPath(new URL('../../python/lapis_package/', import.meta.url));
/** What the conversion adds to the model's own requirements. */
const CONVERSION_PACKAGES = ['skl2onnx', 'onnx', 'onnxruntime'];
const PACKAGE_TARGETS = ['onnx'] as const;
/** The run tag naming the version a packaged model was made from (read by the lineage). */
const PACKAGE_SOURCE_TAG = 'lapis.package.source';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

export interface PackageRequest {
  name: string;
  version?: string;
  target?: string;
  output_name?: string;
  output_version?: string;
  tolerance?: number;
}

export interface PackageResult {
  source: string;
  target: 'onnx';
  output_name: string;
  output_version: string | null;
  job: JobView;
}

export class ModelPackaging {
  readonly #d: { jobs: JobService; models: ModelAssets; content: ContentStore };

  constructor(deps: { jobs: JobService; models: ModelAssets; content: ContentStore }) {
    this.#d = deps;
  }

  /** `from`: the scope the source version is in — the workspace, or a registry as `registry/<name>`; the package is registered in the workspace. */
  async package(ws: Workspace, from: string, req: PackageRequest, createdBy: { name: string; id: string | null }): Promise<PackageResult> {
    const target = req.target ?? 'onnx';
    if (!(PACKAGE_TARGETS as readonly string[]).includes(target)) throw invalid(`Unknown packaging target '${target}'; the targets are: ${PACKAGE_TARGETS.join(', ')}.`);
    const tolerance = req.tolerance ?? 1e-4;
    if (!Number.isFinite(tolerance) || tolerance < 0) throw invalid(`tolerance must be a number ≥ 0 (got ${String(req.tolerance)}).`);
    const scope = scopeOf(from);
    const version = await this.#d.models.resolveVersion(scope, req.name, req.version ?? 'latest');
    const registry = from.startsWith('registry/') ? from.slice('registry/'.length) : undefined;
    const source = formatAssetRef({ name: req.name, version, ...(registry ? { registry } : {}) }, 'models');
    const text = (path: string): Promise<string | undefined> => this.#d.models.text(scope, req.name, version, path);
    const mlmodelText = await text('MLmodel');
    if (mlmodelText === undefined) throw invalid(`Model ${source} is not an MLflow model (no MLmodel file); only scikit-learn MLflow models can be packaged as ONNX.`);
    const mlmodel = parseMlModel(mlmodelText, source);
    if (!mlmodel.flavors.includes('sklearn')) throw invalid(`Model ${source} is not a scikit-learn model (its flavors: ${mlmodel.flavors.join(', ') || 'none'}); only scikit-learn MLflow models can be packaged as ONNX.`);
    if (!mlmodel.signature && !mlmodel.hasInputExample) {
      throw invalid(`Model ${source} has neither a signature nor an input example, so its inputs are unknown: log it again with signature=infer_signature(X, model.predict(X)) or input_example=X[:5].`);
    }
    const why = mlmodel.signature ? onnxInputProblem(mlmodel.signature) : undefined;
    if (why) throw invalid(`Model ${source} cannot be packaged as ONNX: ${why}. Cast those columns in the model's pipeline, or deploy the model as it is.`);
    if (mlmodel.signature?.kind === 'columns' && mlmodel.signature.columns.some((c) => c.type === 'string') && !mlmodel.hasInputExample) {
      throw invalid(`Model ${source} has text columns and no input example; a model with text columns is checked on its input example: log it again with input_example=X[:20].`);
    }
    const requirements = await text('requirements.txt');
    if (requirements === undefined) throw invalid(`Model ${source} has no requirements.txt, so its environment is unknown; log it again with mlflow.sklearn.log_model, which writes one.`);

    const outputName = req.output_name ?? `${req.name}-onnx`;
    if (!NAME.test(outputName)) throw invalid(`output name '${outputName}' must start with a letter or digit and hold only letters, digits, '_', '.' and '-'.`);
    const env = mlflowModelEnvironment(`the requirements of ${source} + ${CONVERSION_PACKAGES.join(', ')}`, requirements, (await text('python_env.yaml')) ?? '', CONVERSION_PACKAGES);
    const code = await this.#converterUpload(ws.name);
    const spec = {
      type: 'command',
      display_name: `package ${source} as ONNX`,
      experiment_name: 'model-packaging',
      description: `Converts ${source} to ONNX with skl2onnx and checks it against the original on sample data.`,
      code: 'lapis-package',
      command: `python convert.py --model \${{inputs.model}} --out \${{outputs.model}} --tolerance ${tolerance} --source ${source}`,
      inputs: { model: { type: 'mlflow_model', path: source, mode: 'download' } },
      outputs: {
        model: {
          type: 'mlflow_model',
          mode: 'rw_mount',
          name: outputName,
          ...(req.output_version !== undefined ? { version: req.output_version } : {}),
          description: `${source} as ONNX (skl2onnx), checked against it within ${tolerance}`,
        },
      },
      environment: { conda_file: { dependencies: [...(env.python ? [`python=${env.python}`] : []), { pip: env.pip }] } },
      tags: { [PACKAGE_SOURCE_TAG]: source, 'lapis.package.target': target },
    };
    const job = await this.#d.jobs.create(ws, { spec, uploads: { code } }, createdBy);
    return { source, target: 'onnx', output_name: outputName, output_version: req.output_version ?? null, job };
  }

  /** The converter as a code upload of the workspace: content-addressed, so stored once. */
  async #converterUpload(workspace: string): Promise<string> {
    const bodies = await Promise.all(CONVERTER_FILES.map((name) => readFile(join(CONVERTER_DIR, name))));
    const files = CONVERTER_FILES.map((path, i) => ({ path, sha256: createHash('sha256').update(bodies[i] as Buffer).digest('hex'), size: (bodies[i] as Buffer).length }));
    const hash = manifestHash(files);
    if (!(await this.#d.content.find(workspace, hash))) {
      for (const [i, file] of files.entries()) await this.#d.content.putFile(workspace, hash, file.path, file.sha256, Readable.from([bodies[i] as Buffer]));
      await this.#d.content.commit(workspace, hash, files);
    }
    return hash;
  }
}

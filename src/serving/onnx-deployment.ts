/**
 * Which deployments the ONNX runtime serves — an MLflow model with the onnx flavor and no scoring
 * script — checked when the deployment is created, and what its instances need once the model's
 * files are on this machine.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../core/errors.js';
import { onnxInputProblem, parseMlModel, type MlModel, type OnnxColumnType } from '../registry/mlmodel.js';
import type { OnlineDeploymentSpec } from '../specs/index.js';
import { workerCount } from './instance.js';
import type { OnnxInstanceSpec } from './onnx-runtime.js';
import { probeSettings } from './probes.js';

/** Whether the deployment runs on the ONNX runtime; a 400 when it would but cannot. */
export function onnxDeployment(mlmodel: MlModel, spec: OnlineDeploymentSpec, what: string): boolean {
  if (!mlmodel.onnxFile || spec.code_configuration) return false;
  if (spec.environment !== undefined) {
    throw invalid(`Model ${what} is an ONNX model, which runs without code in the in-process ONNX runtime — no Python, so no environment: remove environment, or add code_configuration with a scoring script to serve it from Python.`);
  }
  const why = mlmodel.signature ? onnxInputProblem(mlmodel.signature) : undefined;
  if (why) throw invalid(`Model ${what} cannot be served by the ONNX runtime: ${why}. Add code_configuration with a scoring script to serve it from Python.`);
  return true;
}

export async function onnxInstanceSpec(key: string, modelDir: string, spec: OnlineDeploymentSpec, maxConcurrent: number, logDir: string): Promise<OnnxInstanceSpec> {
  const mlmodel = parseMlModel(await readFile(join(modelDir, 'MLmodel'), 'utf8'), key);
  const sig = mlmodel.signature;
  return {
    key,
    modelPath: join(modelDir, ...(mlmodel.onnxFile ?? 'model.onnx').split('/')),
    columns: sig?.kind === 'columns' ? sig.columns.map((c) => ({ name: c.name as string, type: c.type as OnnxColumnType })) : null,
    instanceCount: spec.instance_count ?? 1,
    workersPerInstance: workerCount(spec.environment_variables),
    maxConcurrent,
    probes: probeSettings(spec),
    logDir,
  };
}

/**
 * The runtimes of online deployments behind one face: Python scoring hosts (runtime.ts) for a
 * score.py or an MLflow model, the in-process ONNX runtime (onnx-runtime.ts) for an ONNX model
 * without code. Each deployment is served by one of them; an update may move it to the other.
 */
import type { InstanceView, ScoringInstance } from './instance.js';
import { OnnxRuntime, type OnnxInstanceSpec } from './onnx-runtime.js';
import { ServingRuntime, type InstanceSpec } from './runtime.js';

export type RuntimeKind = 'python' | 'onnx';
export type DeploymentSpec = ({ kind: 'python' } & InstanceSpec) | ({ kind: 'onnx' } & OnnxInstanceSpec);

export class Runtimes {
  readonly #python = new ServingRuntime();
  readonly #onnx = new OnnxRuntime();
  readonly #kinds = new Map<string, RuntimeKind>();

  #of(kind: RuntimeKind): ServingRuntime | OnnxRuntime {
    return kind === 'onnx' ? this.#onnx : this.#python;
  }

  #current(key: string): ServingRuntime | OnnxRuntime | undefined {
    const kind = this.#kinds.get(key);
    return kind ? this.#of(kind) : undefined;
  }

  async start(spec: DeploymentSpec): Promise<void> {
    await this.stop(spec.key);
    await (spec.kind === 'onnx' ? this.#onnx.start(spec) : this.#python.start(spec));
    this.#kinds.set(spec.key, spec.kind);
  }

  /** A rolling replacement; across runtimes, the new one is up before the old one stops. */
  async replace(spec: DeploymentSpec): Promise<void> {
    const kind = this.#kinds.get(spec.key);
    if (kind === spec.kind) return spec.kind === 'onnx' ? this.#onnx.replace(spec) : this.#python.replace(spec);
    await (spec.kind === 'onnx' ? this.#onnx.start(spec) : this.#python.start(spec));
    this.#kinds.set(spec.key, spec.kind);
    if (kind) await this.#of(kind).stop(spec.key);
  }

  async stop(key: string): Promise<void> {
    const current = this.#current(key);
    this.#kinds.delete(key);
    await current?.stop(key);
  }

  async close(): Promise<void> {
    await Promise.all([this.#python.close(), this.#onnx.close()]);
    this.#kinds.clear();
  }

  has(key: string): boolean {
    return this.#current(key)?.has(key) ?? false;
  }

  kind(key: string): RuntimeKind | undefined {
    return this.#kinds.get(key);
  }

  instances(key: string): InstanceView[] {
    return this.#current(key)?.instances(key) ?? [];
  }

  maxConcurrent(key: string): number {
    return this.#current(key)?.maxConcurrent(key) ?? 1;
  }

  /** A ready instance with a free request slot, or why there is none. */
  pick(key: string): ScoringInstance | 'none-ready' | 'busy' {
    return this.#current(key)?.pick(key) ?? 'none-ready';
  }
}

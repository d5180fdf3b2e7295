/**
 * What both runtimes (Python scoring processes, in-process ONNX) do alike with their deployments:
 * keep them by `<endpoint>/<deployment>`, pick an instance for a request, show the instances, wait
 * for an old version's requests to finish during a rolling update, and stop.
 */
import type { WriteStream } from 'node:fs';
import { pickInstance, type InstanceView, type ScoringInstance } from './instance.js';

/** How long a rolling update lets the old version finish the requests it holds. */
const DRAIN_LIMIT_MS = 30_000;

export interface RunningInstance extends ScoringInstance {
  view(): InstanceView;
  stop(): Promise<void>;
}

export interface RunningDeployment<I extends RunningInstance> {
  spec: { key: string; maxConcurrent: number };
  instances: I[];
  /** Where round-robin picking goes on from. */
  next: number;
  log: WriteStream;
}

export abstract class DeploymentSet<I extends RunningInstance, D extends RunningDeployment<I>> {
  protected readonly deployments = new Map<string, D>();

  /** Stops what a deployment runs: its instances, and whatever else the runtime holds for it. */
  protected async stopDeployment(d: D): Promise<void> {
    await Promise.all(d.instances.map((i) => i.stop()));
  }

  /** Waits (a bounded time) until an old version's instances hold no request, then stops them. */
  protected async drain(old: D): Promise<void> {
    for (let waited = 0; waited < DRAIN_LIMIT_MS && old.instances.some((i) => i.inflight > 0); waited += 50) await new Promise((r) => setTimeout(r, 50));
    await this.stopDeployment(old);
  }

  async stop(key: string): Promise<void> {
    const d = this.deployments.get(key);
    if (!d) return;
    this.deployments.delete(key);
    await this.stopDeployment(d);
    d.log.end();
  }

  async close(): Promise<void> {
    await Promise.all([...this.deployments.keys()].map((k) => this.stop(k)));
  }

  has(key: string): boolean {
    return this.deployments.has(key);
  }

  instances(key: string): InstanceView[] {
    return (this.deployments.get(key)?.instances ?? []).map((i) => i.view());
  }

  maxConcurrent(key: string): number {
    return this.deployments.get(key)?.spec.maxConcurrent ?? 1;
  }

  /** A ready instance with a free request slot (round robin), or why there is none. */
  pick(key: string): ScoringInstance | 'none-ready' | 'busy' {
    const d = this.deployments.get(key);
    if (!d) return 'none-ready';
    const inst = pickInstance(d.instances, d.next, d.spec.maxConcurrent);
    if (typeof inst !== 'string') d.next = (inst.index + 1) % d.instances.length;
    return inst;
  }
}

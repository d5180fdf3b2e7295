/**
 * The scheduler: starts queued jobs when their compute target has free slots, keeps a lease on
 * every job it runs, and stops jobs on cancel or timeout.
 *
 * Safety across restarts and controllers: a job is claimed by one conditional UPDATE (Queued →
 * Preparing, with this controller as lease owner), so it starts at most once. Leases are renewed
 * while the controller lives and released when it stops; a new controller adopts an active job
 * whose lease is free or expired — reattaching to its runner if that is still alive, requeueing it
 * if no runner was ever started, and failing it (never rerunning it) otherwise.
 */
import { now } from '../core/clock.js';
import { newId } from '../core/ids.js';
import { LOCAL_ADMIN, type AuthService } from '../auth/service.js';
import type { Executor, TaskExit } from '../compute/executor.js';
import { LOCAL_COMPUTE, type ComputeTargets } from '../compute/targets.js';
import type { JobTable } from '../store/schema.js';
import { ACTIVE_STATUSES, type JobService, type JobStatus } from './service.js';
import type { TaskBody } from './resolve.js';

const LEASE_MS = 30_000;
const TICK_MS = 1000;
/** A runner enforces limits.timeout itself; the controller steps in this much later if it did not. */
const TIMEOUT_GRACE_MS = 15_000;
const JOB_TOKEN_TTL_MS = 7 * 86_400_000;

interface Logger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ControllerDeps {
  jobs: JobService;
  computes: ComputeTargets;
  executor: Executor;
  /** Set when authentication is on: each job gets a token of its submitter, revoked when it ends. */
  auth?: AuthService;
  log: Logger;
}

export class JobController {
  readonly owner = newId('ctl');
  readonly #d: ControllerDeps;
  /** Jobs whose runner this controller started or adopted: name → pid, attempt. */
  readonly #running = new Map<string, { pid: number; attempt: number }>();
  #serverUrl = '';
  #timers: NodeJS.Timeout[] = [];
  #scheduling: Promise<void> | undefined;
  #again = false;
  #closed = false;
  readonly #onQueued = (): void => this.schedule();
  readonly #onCancel = (name: string): void => void this.#cancel(name);
  readonly #onEnded = (name: string): void => void this.#revokeToken(name);

  constructor(deps: ControllerDeps) {
    this.#d = deps;
  }

  async start(serverUrl: string): Promise<void> {
    this.#serverUrl = serverUrl;
    this.#d.jobs.events.on('queued', this.#onQueued);
    this.#d.jobs.events.on('cancel', this.#onCancel);
    this.#d.jobs.events.on('ended', this.#onEnded);
    this.#timers.push(setInterval(() => this.schedule(), TICK_MS), setInterval(() => void this.#renewLeases(), LEASE_MS / 3));
    for (const t of this.#timers) t.unref();
    this.schedule();
  }

  /** Runs one scheduling pass now, or right after the one in progress. */
  schedule(): void {
    if (this.#closed) return;
    if (this.#scheduling) {
      this.#again = true;
      return;
    }
    this.#scheduling = this.#pass()
      .catch((err: unknown) => this.#d.log.error({ err }, 'job scheduling pass failed'))
      .finally(() => {
        this.#scheduling = undefined;
        if (this.#again) {
          this.#again = false;
          this.schedule();
        }
      });
  }

  async #pass(): Promise<void> {
    const active = await this.#d.jobs.active();
    await this.#adoptOrphans(active);
    await this.#enforceTimeouts(active);
    const queued = await this.#d.jobs.queued();
    if (queued.length === 0) return;
    const busy = new Map<string, number>();
    for (const job of active) busy.set(`${job.workspace}/${job.compute}`, (busy.get(`${job.workspace}/${job.compute}`) ?? 0) + Number(job.slots));
    const capacity = await this.#d.computes.slots();
    const blocked = new Set<string>();
    for (const job of queued) {
      const key = `${job.workspace}/${job.compute}`;
      if (blocked.has(key)) continue; // first in, first out per target: no overtaking a big job
      const cap = job.compute === LOCAL_COMPUTE ? this.#d.computes.localSlots : (capacity.get(key) ?? 0);
      const used = busy.get(key) ?? 0;
      if (used + Number(job.slots) > cap) {
        blocked.add(key);
        continue;
      }
      if (await this.#launch(job)) {
        busy.set(key, used + Number(job.slots));
      }
    }
  }

  async #launch(job: JobTable): Promise<boolean> {
    const attempt = Number(job.attempt) + 1;
    const claimed = await this.#d.jobs.transition(job.name, ['Queued'], 'Preparing', { attempt, lease_owner: this.owner, lease_expires_at: now() + LEASE_MS, pid: null });
    if (!claimed) return false;
    try {
      let token: string | undefined;
      if (this.#d.auth && job.principal_id) {
        const created = await this.#d.auth.createToken(job.principal_id, `job ${job.name}`, JOB_TOKEN_TTL_MS);
        token = created.token;
        await this.#d.jobs.update(job.name, { token_id: created.id });
      }
      const { pid } = await this.#d.executor.start(
        { job: job.name, workspace: job.workspace, attempt, serverUrl: this.#serverUrl, ...(token ? { token } : {}) },
        (exit) => void this.#onExit(job.name, attempt, exit),
      );
      this.#running.set(job.name, { pid, attempt });
      await this.#d.jobs.update(job.name, { pid });
      await this.#d.jobs.appendServerLog(job.name, `Starting on compute '${job.compute}' (attempt ${attempt}, task runner pid ${pid}).`);
    } catch (err) {
      await this.#d.jobs.finish({ ...job, status: 'Preparing', attempt }, 'Failed', { error: (err as Error).message });
      await this.#release(job.name);
    }
    return true;
  }

  /** The runner is gone. It reports its result before it exits, so a job still active here failed without one. */
  async #onExit(name: string, attempt: number, exit: TaskExit): Promise<void> {
    this.#running.delete(name);
    try {
      const row = await this.#d.jobs.rowByName(name);
      if (row && ACTIVE_STATUSES.includes(row.status as JobStatus) && Number(row.attempt) === attempt) {
        if (row.cancel_requested === 1) {
          await this.#d.jobs.finish(row, 'Canceled', { error: 'canceled by the user' });
        } else {
          const how = exit.signal ? `was killed by ${exit.signal}` : exit.code === null ? 'ended' : `exited with code ${exit.code}`;
          const output = exit.output.trim() ? `; its last output:\n${exit.output.trim().split('\n').slice(-15).join('\n')}` : '';
          await this.#d.jobs.finish(row, 'Failed', { error: `the task runner ${how} without reporting a result${output}` });
        }
      }
      await this.#release(name);
    } catch (err) {
      this.#d.log.error({ err, job: name }, 'finishing a job after its runner exited failed');
    }
    this.schedule();
  }

  async #release(name: string): Promise<void> {
    await this.#revokeToken(name);
    await this.#d.executor.cleanup(name).catch(() => undefined);
  }

  /** A job's token lives exactly as long as the job. */
  async #revokeToken(name: string): Promise<void> {
    if (!this.#d.auth) return;
    const row = await this.#d.jobs.rowByName(name);
    if (row?.token_id) await this.#d.auth.revokeToken(LOCAL_ADMIN, row.token_id).catch(() => undefined);
  }

  async #cancel(name: string): Promise<void> {
    const running = this.#running.get(name);
    if (!running) return; // another controller's job: its runner sees cancel_requested on its next heartbeat
    await this.#d.executor.stop(name, running.pid);
  }

  async #enforceTimeouts(active: JobTable[]): Promise<void> {
    for (const job of active) {
      const running = this.#running.get(job.name);
      if (!running) continue;
      const timeout = (JSON.parse(job.task) as TaskBody).timeout_s;
      const started = (JSON.parse(job.status_times) as Record<string, number>).Running;
      if (timeout === null || started === undefined || now() < started + timeout * 1000 + TIMEOUT_GRACE_MS) continue;
      this.#running.delete(job.name);
      await this.#d.executor.stop(job.name, running.pid);
      await this.#d.jobs.finish(job, 'Failed', { error: `timed out after ${timeout} s (limits.timeout); the task runner did not stop it, so the server did` });
      await this.#release(job.name);
    }
  }

  /** Active jobs nobody holds (their controller stopped or died): reattach, requeue or fail them. */
  async #adoptOrphans(active: JobTable[]): Promise<void> {
    const t = now();
    for (const job of active) {
      if (job.lease_owner === this.owner || this.#running.has(job.name)) continue;
      if (job.lease_owner !== null && Number(job.lease_expires_at ?? 0) > t) continue;
      const took = await this.#d.jobs.takeLease(job.name, job.lease_owner, this.owner, t + LEASE_MS);
      if (!took) continue;
      const attempt = Number(job.attempt);
      if (job.pid !== null && this.#d.executor.adopt(job.name, Number(job.pid), (exit) => void this.#onExit(job.name, attempt, exit))) {
        this.#running.set(job.name, { pid: Number(job.pid), attempt });
        await this.#d.jobs.appendServerLog(job.name, `Reattached to the running job after a server restart (task runner pid ${job.pid}).`);
        if (job.cancel_requested === 1) void this.#cancel(job.name);
      } else if (job.pid === null && job.status === 'Preparing') {
        await this.#d.jobs.transition(job.name, ['Preparing'], 'Queued', { lease_owner: null, lease_expires_at: null });
        await this.#d.jobs.appendServerLog(job.name, 'Requeued: the server stopped before its task runner started.');
      } else {
        await this.#d.jobs.finish(job, 'Failed', {
          error: `its task runner${job.pid !== null ? ` (pid ${job.pid})` : ''} was gone when the server restarted, without reporting a result; the job was not rerun, since its command may have run. Submit it again.`,
        });
        await this.#release(job.name);
      }
    }
  }

  async #renewLeases(): Promise<void> {
    if (this.#running.size === 0) return;
    await this.#d.jobs.renewLeases(this.owner, now() + LEASE_MS).catch((err: unknown) => this.#d.log.error({ err }, 'lease renewal failed'));
  }

  /** Stops scheduling; running jobs go on and their leases are released for the next server to adopt at once. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#d.jobs.events.off('queued', this.#onQueued);
    this.#d.jobs.events.off('cancel', this.#onCancel);
    this.#d.jobs.events.off('ended', this.#onEnded);
    await this.#scheduling;
    await this.#d.jobs.releaseLeases(this.owner);
    (this.#d.executor as { close?: () => void }).close?.();
  }
}

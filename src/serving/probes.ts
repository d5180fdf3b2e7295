/**
 * Liveness and readiness probes of a deployment's scoring processes, as Azure ML defines them
 * (`liveness_probe` / `readiness_probe`: initial_delay, period, timeout, success_threshold,
 * failure_threshold, in seconds; Azure's defaults). After a worker first answers /ready, its
 * /live and /ready are probed every `period`: `failure_threshold` failures in a row make it
 * unhealthy — for liveness the process is killed and restarted, for readiness it is not routed to
 * — and `success_threshold` successes in a row after that make it healthy again.
 */
import type { OnlineDeploymentSpec } from '../specs/index.js';

export interface ProbeSettings {
  initial_delay: number;
  period: number;
  timeout: number;
  success_threshold: number;
  failure_threshold: number;
}

const DEFAULTS: ProbeSettings = { initial_delay: 10, period: 10, timeout: 2, success_threshold: 1, failure_threshold: 30 };

/** A deployment's two probes. */
export interface Probes {
  liveness: ProbeSettings;
  readiness: ProbeSettings;
}

export function probeSettings(spec: OnlineDeploymentSpec): Probes {
  return { liveness: { ...DEFAULTS, ...spec.liveness_probe }, readiness: { ...DEFAULTS, ...spec.readiness_probe } };
}

export interface ProbeEvents {
  /** After `failure_threshold` failures in a row; `why` is the last one. */
  unhealthy(failures: number, why: string): void;
  /** After `success_threshold` successes in a row, once unhealthy. */
  healthy(): void;
}

/**
 * Probes with `check` (which resolves with why it failed, or undefined when it passed) until the
 * returned function is called. The probe starts healthy: it was ready when the watch began.
 */
export function watch(settings: ProbeSettings, check: (timeoutMs: number) => Promise<string | undefined>, on: ProbeEvents): () => void {
  let stopped = false;
  let healthy = true;
  let failures = 0;
  let successes = 0;
  let timer: NodeJS.Timeout;
  const next = (delayS: number): void => {
    timer = setTimeout(() => void probe(), delayS * 1000);
    timer.unref();
  };
  const probe = async (): Promise<void> => {
    const why = await check(settings.timeout * 1000);
    if (stopped) return;
    if (why === undefined) {
      failures = 0;
      successes += 1;
      if (!healthy && successes >= settings.success_threshold) {
        healthy = true;
        on.healthy();
      }
    } else {
      successes = 0;
      failures += 1;
      if (healthy && failures >= settings.failure_threshold) {
        healthy = false;
        on.unhealthy(failures, why);
      }
    }
    next(settings.period);
  };
  next(settings.initial_delay);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** A scoring worker as the probes see it: whether it is routed to, and how to stop probing it. */
export interface ProbedWorker {
  ready: boolean;
  /** Alive but failing its readiness probe. */
  unready?: boolean;
  /** Stops its probes. */
  unwatch?: () => void;
}

type Check = (timeoutMs: number) => Promise<string | undefined>;

/**
 * Both probes of one worker (a Python process or an ONNX worker thread): liveness ends it (its exit
 * restarts it); readiness takes it out of routing meanwhile, and back once it passes again.
 */
export function watchWorker(
  w: ProbedWorker,
  probes: Probes,
  how: {
    live: Check;
    ready: Check;
    /** What the worker is, for the log: 'process', 'worker thread'. */
    noun: string;
    /** Ends the worker; `ending` says so in the log ('killing the scoring process'). */
    end: () => void;
    ending: string;
    log: (line: string) => void;
    /** The worker's routing changed: the instance's state follows it. */
    changed: () => void;
  },
): void {
  const stopLiveness = watch(probes.liveness, how.live, {
    unhealthy: (n, why) => {
      how.log(`liveness probe failed ${n} times in a row (${why}): ${how.ending}`);
      how.end();
    },
    healthy: () => undefined, // an ended worker does not come back: it is restarted
  });
  const stopReadiness = watch(probes.readiness, how.ready, {
    unhealthy: (n, why) => {
      how.log(`readiness probe failed ${n} times in a row (${why}): no requests are sent to this ${how.noun} until it passes`);
      w.ready = false;
      w.unready = true;
      how.changed();
    },
    healthy: () => {
      how.log(`readiness probe passes again: requests are sent to this ${how.noun}`);
      w.ready = true;
      w.unready = false;
      how.changed();
    },
  });
  w.unwatch = () => {
    stopLiveness();
    stopReadiness();
  };
}

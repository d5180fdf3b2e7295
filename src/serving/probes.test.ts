import { afterEach, describe, expect, it, vi } from 'vitest';
import { probeSettings, watch } from './probes.js';
import type { OnlineDeploymentSpec } from '../specs/index.js';

afterEach(() => {
  vi.useRealTimers();
});

/** Runs `watch` on a scripted series of probe results (true = passed), one per period. */
async function run(results: boolean[], settings: Partial<ReturnType<typeof probeSettings>['liveness']>): Promise<string[]> {
  vi.useFakeTimers();
  const events: string[] = [];
  let n = 0;
  const stop = watch(
    { initial_delay: 0, period: 1, timeout: 1, success_threshold: 1, failure_threshold: 1, ...settings },
    () => Promise.resolve(results[n++] === false ? 'down' : undefined),
    { unhealthy: (count, why) => events.push(`unhealthy ${count} ${why} @${n}`), healthy: () => events.push(`healthy @${n}`) },
  );
  await vi.advanceTimersByTimeAsync(0); // the first probe, after initial_delay 0
  for (let i = 1; i < results.length; i++) await vi.advanceTimersByTimeAsync(1000);
  stop();
  await vi.advanceTimersByTimeAsync(5000);
  expect(n).toBe(results.length); // stopped: no probe after it
  return events;
}

describe('probes', () => {
  it('turns unhealthy after failure_threshold failures in a row, and healthy after success_threshold passes', async () => {
    expect(await run([false, true, false, false, false, true, true, false], { failure_threshold: 3, success_threshold: 2 })).toEqual(['unhealthy 3 down @5', 'healthy @7']);
  });

  it('reports each change once, and nothing after it is stopped', async () => {
    expect(await run([false, false, false, true, false], { failure_threshold: 1 })).toEqual(['unhealthy 1 down @1', 'healthy @4', 'unhealthy 1 down @5']);
  });

  it("uses Azure ML's defaults where the YAML is silent", () => {
    const spec = { readiness_probe: { period: 5 } } as unknown as OnlineDeploymentSpec;
    expect(probeSettings(spec)).toEqual({
      liveness: { initial_delay: 10, period: 10, timeout: 2, success_threshold: 1, failure_threshold: 30 },
      readiness: { initial_delay: 10, period: 5, timeout: 2, success_threshold: 1, failure_threshold: 30 },
    });
  });
});

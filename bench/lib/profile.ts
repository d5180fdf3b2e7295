import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** Summaries of V8 .cpuprofile files (as written by `node --cpu-prof`). */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  share: number;
}

/**
 * Self time per function, summed over the samples of the profile's last `windowMs` (the phase of
 * interest, when the process was stopped right after it); `(idle)` is left out of the shares.
 */
export function topSelfTime(path: string, limit = 10, windowMs?: number): { top: SelfTime[]; busyMs: number; idleMs: number } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const from = windowMs === undefined ? -Infinity : profile.endTime - windowMs * 1000;
  const totals = new Map<string, { fn: string; where: string; us: number }>();
  let t = profile.startTime;
  let idle = 0;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < from) continue;
    const frame = frames.get(profile.samples[i] as number);
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idle += delta;
      continue;
    }
    busy += delta;
    const fn = frame.functionName || '(anonymous)';
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const entry = totals.get(key) ?? { fn, where, us: 0 };
    entry.us += delta;
    totals.set(key, entry);
  }
  const top = [...totals.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, share: busy > 0 ? e.us / busy : 0 }));
  return { top, busyMs: busy / 1000, idleMs: idle / 1000 };
}

function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  const dist = path.indexOf('/dist/');
  if (dist >= 0) return path.slice(dist + 1);
  return path.startsWith('node:') ? path : basename(path);
}

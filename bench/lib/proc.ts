import { readdirSync, readFileSync } from 'node:fs';

/** Linux /proc readers: resident memory and CPU time of a process and all its descendants. */

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, …]. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * `pid`, every live descendant (workers forked by uvicorn, gunicorn, …) and every other member of
 * its process group: MLflow's job runner daemonises its consumers (re-parented to init), but they
 * stay in the server's group since the launcher gives each server a group of its own.
 */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  const group: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = Number(entry);
    const fields = statFields(child);
    if (!fields) continue;
    const parent = Number(fields[1]);
    if (Number(fields[2]) === pid) group.push(child);
    const list = children.get(parent) ?? [];
    list.push(child);
    children.set(parent, list);
  }
  const out = new Set<number>();
  const queue = [pid, ...group];
  while (queue.length > 0 && out.size < 10_000) {
    const p = queue.shift() as number;
    if (out.has(p)) continue;
    out.add(p);
    queue.push(...(children.get(p) ?? []));
  }
  return [...out];
}

/** VmRSS of one process in bytes (0 if it is gone or a zombie). */
export function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * A process's resident memory by kind (/proc/<pid>/status): anonymous (heaps, native allocations),
 * file-backed (mapped files: code, and a database file mapped by SQLite — page cache the kernel can
 * reclaim), shared memory. Zeros when the process is gone.
 */
export function rssParts(pid: number): { anon: number; file: number; shmem: number } {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone: zeros
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
}

/**
 * The resident pages of one file a process maps (/proc/<pid>/smaps): a database SQLite maps for
 * reads, say. `dirty` is what was written through the map (0: the kernel can drop every page
 * without writing it back). `path` must be the real path (no links). Zeros when the file is not
 * mapped or the process is gone.
 */
export function mappedFileRss(pid: number, path: string): { rss: number; dirty: number } {
  let smaps = '';
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return { rss: 0, dirty: 0 };
  }
  let inFile = false;
  let rss = 0;
  let dirty = 0;
  for (const line of smaps.split('\n')) {
    // A mapping's header: address range, perms, offset, device, inode, then the path.
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      // The kernel shows the real path, with " (deleted)" once the file is unlinked.
      inFile = header[1]?.replace(/ \(deleted\)$/, '') === path;
      continue;
    }
    if (!inFile) continue;
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    if (field?.[1] === 'Rss') rss += Number(field[2]) * 1024;
    if (field?.[1] === 'Private_Dirty' || field?.[1] === 'Shared_Dirty') dirty += Number(field[2]) * 1024;
  }
  return { rss, dirty };
}

/** Summed VmRSS of a process tree, and how many processes it counted. */
export function treeRss(pid: number): { bytes: number; processes: number } {
  const pids = processTree(pid).filter((p) => rssBytes(p) > 0);
  return { bytes: pids.reduce((n, p) => n + rssBytes(p), 0), processes: pids.length };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** User + system CPU seconds consumed so far by a process tree (live processes only). */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const fields = statFields(p);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return ticks / CLOCK_TICKS;
}

export const mib = (bytes: number): number => bytes / (1024 * 1024);

/** Busy CPU seconds of the whole machine so far (all cores, from /proc/stat). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (total - idle) / CLOCK_TICKS;
}

/** Per-process VmRSS of a process tree, with each command line (for breakdowns). */
export function treeRssBreakdown(pid: number): { pid: number; bytes: number; cmd: string }[] {
  return processTree(pid)
    .map((p) => {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      } catch {
        // exited meanwhile
      }
      return { pid: p, bytes: rssBytes(p), cmd };
    })
    .filter((e) => e.bytes > 0);
}

/**
 * Summed PSS (proportional set size) of a process tree in bytes: unlike summed RSS, pages shared
 * between forked workers are counted once overall. 0 where smaps_rollup is unavailable.
 */
export function treePss(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const match = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // exited meanwhile, or no smaps_rollup
    }
  }
  return total;
}

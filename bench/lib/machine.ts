import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';

/** What every bench records of the machine and the code it measured. */
export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  node: string;
  /** Short commit, marked when src/ or python/ had uncommitted changes. */
  commit: string;
  /** The 1-minute load average when the bench started. */
  loadBefore: number;
}

export function machineInfo(root: string): Machine {
  // --no-optional-locks: a read-only look, never a refresh of the index.
  const git = (args: string[]) => spawnSync('git', ['--no-optional-locks', ...args], { cwd: root, encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  let commit = 'unknown';
  if (head.status === 0) {
    commit = head.stdout.trim();
    if (git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'python']).stdout.trim()) commit += ' + uncommitted changes in src/ or python/';
  }
  return {
    date: new Date().toISOString().slice(0, 10),
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    ramGiB: totalmem() / 1024 ** 3,
    kernel: `Linux ${release()}`,
    node: process.version,
    commit,
    loadBefore: loadavg()[0] ?? 0,
  };
}

/** The "Machine:" line of a docs section; `software` names what else ran (Python, MLflow…). */
export function machineLine(m: Machine, software = ''): string {
  return `Machine: ${m.cores} cores (${m.cpu}), ${m.ramGiB.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })} GiB RAM, ${m.kernel}; Node ${m.node}${software ? `, ${software}` : ''}; Lapis ${m.commit}.`;
}

/**
 * Where a job's task runner runs. Every executor starts the same runner (python/lapis_task, see
 * docs/task-protocol.md), which fetches, runs and reports over HTTP by itself; an executor only
 * starts it, notices when it is gone, and stops it.
 */
export interface TaskLaunch {
  job: string;
  workspace: string;
  attempt: number;
  /** Base URL the runner reaches the server at. */
  serverUrl: string;
  /** Bearer token of the job (absent when authentication is off). */
  token?: string;
}

export interface TaskExit {
  code: number | null;
  signal: string | null;
  /** The end of the runner's own output, for a failure message. */
  output: string;
}

export interface Executor {
  readonly kind: string;
  /** Starts the runner; `onExit` fires once, when the runner process is gone. */
  start(launch: TaskLaunch, onExit: (exit: TaskExit) => void): Promise<{ pid: number }>;
  /** Reattaches to a runner that an earlier server process started; false when it is gone. */
  adopt(job: string, pid: number, onExit: (exit: TaskExit) => void): boolean;
  /** Stops a job: the runner is asked first (it reports Canceled); everything left is killed within 2 s. */
  stop(job: string, pid: number): Promise<void>;
  /** Removes what the job left on this machine once it has ended. */
  cleanup(job: string): Promise<void>;
}

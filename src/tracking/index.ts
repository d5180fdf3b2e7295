import type { BlobStore } from '../blobs/index.js';
import type { Database } from '../store/db.js';
import { ArtifactService } from './artifacts.js';
import { ExperimentService } from './experiments.js';
import { LoggedModelService } from './logged-models.js';
import { MetricService } from './metrics.js';
import { RunService } from './runs.js';
import { searchRuns, type SearchRunsRequest } from './search-runs.js';
import type { Workspace } from '../workspaces/service.js';

/** The tracking room's services, wired once and handed to its routes. */
export interface Tracking {
  readonly database: Database;
  readonly experiments: ExperimentService;
  readonly runs: RunService;
  readonly metrics: MetricService;
  readonly loggedModels: LoggedModelService;
  readonly artifacts: ArtifactService;
  searchRuns(ws: Workspace, req: SearchRunsRequest): ReturnType<typeof searchRuns>;
}

export function createTracking(database: Database, blobs: BlobStore): Tracking {
  const experiments = new ExperimentService(database);
  const runs = new RunService(database, experiments);
  return {
    database,
    experiments,
    runs,
    metrics: new MetricService(database, runs),
    loggedModels: new LoggedModelService(database, experiments),
    artifacts: new ArtifactService(blobs),
    searchRuns: (ws, req) => searchRuns(database, ws, req),
  };
}

import type { BlobStore } from '../blobs/index.js';
import { openDatabase, type Database } from '../store/db.js';
import type { Workspace } from '../workspaces/service.js';
import { createTracking, type Tracking } from './index.js';

export const WS: Workspace = { name: 'default', description: '', defaultExperimentId: 1, createdAt: 0 };

/** For unit tests: tracking on an in-memory SQLite database with the default workspace, its experiment and one run. */
export async function trackingWithRun(): Promise<{ database: Database; tracking: Tracking; runId: string }> {
  const database = await openDatabase('sqlite:///:memory:');
  await database.db.insertInto('workspaces').values({ name: 'default', description: '', default_experiment_id: 1, created_at: 0 }).execute();
  await database.db
    .insertInto('experiments')
    .values({ experiment_id: 1, workspace: 'default', name: 'Default', artifact_location: 'file:///tmp/x', lifecycle_stage: 'active', creation_time: 0, last_update_time: 0 })
    .execute();
  const tracking = createTracking(database, undefined as unknown as BlobStore);
  const runId = (await tracking.runs.create(WS, { experimentId: '1', tags: [] })).info.run_id;
  return { database, tracking, runId };
}

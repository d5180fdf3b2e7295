import type { BlobStore } from '../blobs/index.js';
import type { Database } from '../store/db.js';

/** What a workspace holds, counted to refuse deleting a non-empty one without --force. */
export async function countWorkspaceResources(database: Database, workspace: string): Promise<{ experiments: number; runs: number; logged_models: number }> {
  const db = database.db;
  const [e, r, m] = await Promise.all([
    db.selectFrom('experiments').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace', '=', workspace).where('name', '!=', 'Default').executeTakeFirstOrThrow(),
    db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace', '=', workspace).executeTakeFirstOrThrow(),
    db.selectFrom('logged_models').select((eb) => eb.fn.countAll<number>().as('n')).where('workspace', '=', workspace).executeTakeFirstOrThrow(),
  ]);
  return { experiments: Number(e.n), runs: Number(r.n), logged_models: Number(m.n) };
}

/**
 * Removes every tracking row and artifact of one workspace, in one transaction for the rows.
 * Every statement is bounded by the workspace, so no other workspace's data can be touched.
 */
export async function purgeWorkspace(database: Database, blobs: BlobStore, workspace: string): Promise<void> {
  await database.db.transaction().execute(async (tx) => {
    const runs = tx.selectFrom('runs').select('run_uuid').where('workspace', '=', workspace);
    const experiments = tx.selectFrom('experiments').select('experiment_id').where('workspace', '=', workspace);
    const models = tx.selectFrom('logged_models').select('model_id').where('workspace', '=', workspace);
    const inputs = tx.selectFrom('run_inputs').select('input_uuid').where('run_uuid', 'in', runs);
    await tx.deleteFrom('input_tags').where('input_uuid', 'in', inputs).execute();
    for (const table of ['params', 'tags', 'latest_metrics', 'run_inputs', 'run_models'] as const) {
      await tx.deleteFrom(table).where('run_uuid', 'in', runs).execute();
    }
    await tx.deleteFrom('metrics').where('run_key', 'in', tx.selectFrom('runs').select('run_key').where('workspace', '=', workspace)).execute();
    for (const table of ['logged_model_params', 'logged_model_tags', 'logged_model_metrics'] as const) {
      await tx.deleteFrom(table).where('model_id', 'in', models).execute();
    }
    await tx.deleteFrom('datasets').where('experiment_id', 'in', experiments).execute();
    await tx.deleteFrom('experiment_tags').where('experiment_id', 'in', experiments).execute();
    await tx.deleteFrom('logged_models').where('workspace', '=', workspace).execute();
    await tx.deleteFrom('runs').where('workspace', '=', workspace).execute();
    await tx.deleteFrom('experiments').where('workspace', '=', workspace).execute();
  });
  await blobs.delete(workspace);
}

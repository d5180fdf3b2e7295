import { now } from '../core/clock.js';
import { alreadyExists, invalid, notFound } from '../core/errors.js';
import type { Database } from '../store/db.js';
import type { ComputeTable } from '../store/schema.js';
import { specErrors } from '../registry/assets.js';
import type { ComputeSpec } from '../specs/index.js';

export interface ComputeView {
  name: string;
  type: string;
  max_instances: number;
  description?: string;
  tags: Record<string, string>;
  spec: Record<string, unknown>;
  created_at: number;
  created_by: string;
  /** True for the built-in `local` target every workspace has. */
  built_in: boolean;
}

export const LOCAL_COMPUTE = 'local';

/**
 * Compute targets of a workspace. Every workspace has the built-in `local` target (slots = the
 * server's `localSlots`); named targets carve their own slot counts out of the same machine, the
 * way an Azure ML cluster's max_instances bounds its jobs.
 */
export class ComputeTargets {
  readonly #database: Database;
  readonly #localSlots: number;

  constructor(database: Database, localSlots: number) {
    this.#database = database;
    this.#localSlots = localSlots;
  }

  get localSlots(): number {
    return this.#localSlots;
  }

  async create(workspace: string, rawSpec: unknown, createdBy: string): Promise<ComputeView> {
    specErrors('compute', rawSpec);
    const spec = rawSpec as ComputeSpec;
    if (spec.name === LOCAL_COMPUTE) throw invalid(`'${LOCAL_COMPUTE}' is the built-in compute target; choose another name.`);
    const row: ComputeTable = {
      workspace,
      name: spec.name,
      type: spec.type ?? 'local',
      max_instances: spec.max_instances ?? 1,
      spec: JSON.stringify(spec),
      created_at: now(),
      created_by: createdBy,
    };
    const exists = await this.#database.db.selectFrom('computes').select('name').where('workspace', '=', workspace).where('name', '=', spec.name).executeTakeFirst();
    if (exists) throw alreadyExists(`Compute target '${spec.name}' already exists in workspace '${workspace}'. Delete it first, or choose another name.`);
    await this.#database.db.insertInto('computes').values(row).execute();
    return view(row);
  }

  /** `local`, `azureml:<name>` or `<name>`. */
  async resolve(workspace: string, reference: string | undefined): Promise<ComputeView> {
    const name = (reference ?? LOCAL_COMPUTE).replace(/^azureml:/, '');
    return this.get(workspace, name);
  }

  async get(workspace: string, name: string): Promise<ComputeView> {
    if (name === LOCAL_COMPUTE) return this.#builtIn();
    const row = await this.#database.db.selectFrom('computes').selectAll().where('workspace', '=', workspace).where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(`No compute target '${name}' in workspace '${workspace}'. Create it with 'lapis compute create -f compute.yml', or use compute: local.`);
    return view(row);
  }

  async list(workspace: string): Promise<ComputeView[]> {
    const rows = await this.#database.db.selectFrom('computes').selectAll().where('workspace', '=', workspace).orderBy('name').execute();
    return [this.#builtIn(), ...rows.map(view)];
  }

  async delete(workspace: string, name: string, activeJobs: number): Promise<void> {
    if (name === LOCAL_COMPUTE) throw invalid(`The built-in '${LOCAL_COMPUTE}' compute target cannot be deleted.`);
    await this.get(workspace, name);
    if (activeJobs > 0) throw invalid(`Compute target '${name}' has ${activeJobs} queued or running job(s); cancel them or wait, then delete it.`);
    await this.#database.db.deleteFrom('computes').where('workspace', '=', workspace).where('name', '=', name).execute();
  }

  /** Slots of every target, keyed `<workspace>/<name>`, for the scheduler. */
  async slots(): Promise<Map<string, number>> {
    const rows = await this.#database.db.selectFrom('computes').select(['workspace', 'name', 'max_instances']).execute();
    return new Map(rows.map((r) => [`${r.workspace}/${r.name}`, Number(r.max_instances)]));
  }

  async purge(workspace: string): Promise<void> {
    await this.#database.db.deleteFrom('computes').where('workspace', '=', workspace).execute();
  }

  #builtIn(): ComputeView {
    return {
      name: LOCAL_COMPUTE,
      type: 'local',
      max_instances: this.#localSlots,
      tags: {},
      spec: { name: LOCAL_COMPUTE, type: 'local', max_instances: this.#localSlots },
      created_at: 0,
      created_by: 'lapis',
      built_in: true,
      description: 'Process slots on the server machine (one per CPU core unless --local-slots says otherwise).',
    };
  }
}

function view(row: ComputeTable): ComputeView {
  const spec = JSON.parse(row.spec) as Record<string, unknown>;
  return {
    name: row.name,
    type: row.type,
    max_instances: Number(row.max_instances),
    ...(typeof spec.description === 'string' ? { description: spec.description } : {}),
    tags: (spec.tags as Record<string, string> | undefined) ?? {},
    spec,
    created_at: Number(row.created_at),
    created_by: row.created_by,
    built_in: false,
  };
}

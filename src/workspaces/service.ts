import { alreadyExists, invalid, notFound } from '../core/errors.js';
import { now } from '../core/clock.js';
import type { Database, Tx } from '../store/db.js';

export const DEFAULT_WORKSPACE = 'default';

/** Kubernetes-style names, as MLflow's own workspaces use, so names can become namespaces later. */
const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const RESERVED = new Set(['workspaces', 'api', 'ajax-api', 'static-files']);

export interface Workspace {
  name: string;
  description: string;
  defaultExperimentId: number;
  createdAt: number;
}

/** Creates what every workspace holds from birth (its Default experiment); returns that experiment's id. */
export type ProvisionWorkspace = (tx: Tx, workspace: string, isDefault: boolean) => Promise<number>;

export function checkWorkspaceName(name: unknown): string {
  if (typeof name !== 'string' || name.length < 2 || name.length > 63 || !NAME_PATTERN.test(name) || RESERVED.has(name)) {
    throw invalid(
      `Invalid workspace name ${JSON.stringify(name)}: use 2–63 lowercase letters, digits and dashes, starting and ending with a letter or digit (e.g. 'dev', 'team-a'); 'api', 'ajax-api', 'workspaces' and 'static-files' are reserved.`,
    );
  }
  return name;
}

export class WorkspaceService {
  readonly #database: Database;
  readonly #provision: ProvisionWorkspace;
  readonly #cache = new Map<string, Workspace>();

  constructor(database: Database, provision: ProvisionWorkspace) {
    this.#database = database;
    this.#provision = provision;
  }

  /** The `default` workspace exists from the first start. */
  async ensureDefault(): Promise<Workspace> {
    const existing = await this.find(DEFAULT_WORKSPACE);
    if (existing) return existing;
    return this.#insert(DEFAULT_WORKSPACE, 'The workspace every server starts with.', true);
  }

  async create(name: unknown, description = ''): Promise<Workspace> {
    const checked = checkWorkspaceName(name);
    if (await this.find(checked)) throw alreadyExists(`Workspace '${checked}' already exists.`);
    return this.#insert(checked, description, false);
  }

  async #insert(name: string, description: string, isDefault: boolean): Promise<Workspace> {
    const createdAt = now();
    await this.#database.db.transaction().execute(async (tx) => {
      // Inserted first with a placeholder so the Default experiment can reference the workspace.
      await tx.insertInto('workspaces').values({ name, description, default_experiment_id: -1, created_at: createdAt }).execute();
      const experimentId = await this.#provision(tx, name, isDefault);
      await tx.updateTable('workspaces').set({ default_experiment_id: experimentId }).where('name', '=', name).execute();
    });
    const created = await this.find(name);
    if (!created) throw notFound(`Workspace '${name}' vanished while being created.`);
    return created;
  }

  /** A workspace already in the cache, without a database round trip. */
  cached(name: string): Workspace | undefined {
    return this.#cache.get(name);
  }

  async find(name: string): Promise<Workspace | undefined> {
    const cached = this.#cache.get(name);
    if (cached) return cached;
    const row = await this.#database.db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    const ws: Workspace = { name: row.name, description: row.description, defaultExperimentId: row.default_experiment_id, createdAt: row.created_at };
    this.#cache.set(name, ws);
    return ws;
  }

  async get(name: string): Promise<Workspace> {
    const ws = await this.find(name);
    if (!ws) {
      throw notFound(`Workspace '${name}' does not exist. Create it with 'lapis workspace create ${name}', or list them with 'lapis workspace list'.`);
    }
    return ws;
  }

  /** Deletes a workspace row; the caller has already removed what lived in it. */
  async remove(name: string): Promise<void> {
    if (name === DEFAULT_WORKSPACE) throw invalid(`The '${DEFAULT_WORKSPACE}' workspace cannot be deleted.`);
    await this.get(name);
    await this.#database.db.deleteFrom('workspaces').where('name', '=', name).execute();
    this.#cache.delete(name);
  }

  async list(): Promise<Workspace[]> {
    const rows = await this.#database.db.selectFrom('workspaces').selectAll().orderBy('name').execute();
    return rows.map((row) => ({ name: row.name, description: row.description, defaultExperimentId: row.default_experiment_id, createdAt: row.created_at }));
  }
}

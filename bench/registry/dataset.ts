import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * The registry benchmark's data, generated from a fixed seed so both servers hold exactly the same
 * registered models, versions and tags: MODELS models × VERSIONS versions, each version tagged
 * `stage` (candidate / validated / retired, drawn per version), `team` (one of 20, drawn per model:
 * a model belongs to a team) and a unique `ticket`.
 */
export const MODELS = 10_000;
export const VERSIONS = 10;
export const STAGES = ['candidate', 'validated', 'retired'] as const;
export const TEAMS = Array.from({ length: 20 }, (_, i) => `team-${i}`);
/** Creation time of the first model; model m is created m minutes later, its version v v seconds after that. */
export const SEED_T0 = 1_700_000_000_000;

export interface SeedVersion {
  name: string;
  version: number;
  created: number;
  source: string;
  stage: string;
  team: string;
  ticket: string;
}

export interface SeedModel {
  name: string;
  created: number;
  /** The registry bumps a model's last update when a version is added: its last version's time. */
  updated: number;
}

/** mulberry32: a small, fast, deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function modelName(m: number): string {
  return `bench-model-${String(m).padStart(5, '0')}`;
}

export function seedRegistry(models = MODELS, versions = VERSIONS): { models: SeedModel[]; versions: SeedVersion[] } {
  const rand = rng(20_261_126);
  const ms: SeedModel[] = [];
  const vs: SeedVersion[] = [];
  let ticket = 100_000;
  for (let m = 0; m < models; m++) {
    const name = modelName(m);
    const created = SEED_T0 + m * 60_000;
    const team = TEAMS[Math.floor(rand() * TEAMS.length)] as string;
    for (let v = 1; v <= versions; v++) {
      vs.push({
        name,
        version: v,
        created: created + v * 1_000,
        source: `mlflow-artifacts:/registry-bench/${name}/v${v}`,
        stage: STAGES[Math.floor(rand() * STAGES.length)] as string,
        team,
        ticket: `TKT-${ticket++}`,
      });
    }
    ms.push({ name, created, updated: created + versions * 1_000 });
  }
  return { models: ms, versions: vs };
}

/** One line per version for the MLflow seeder: name, version, created, source, stage, team, ticket. */
export async function writeVersionsTsv(path: string, versions: readonly SeedVersion[]): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for (const v of versions) {
    buf += `${v.name}\t${v.version}\t${v.created}\t${v.source}\t${v.stage}\t${v.team}\t${v.ticket}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

/** The versions a `tags.team = T and tags.stage = S` filter must return, as `name/version` keys. */
export function expectedMatches(versions: readonly SeedVersion[], team: string, stage: string): Set<string> {
  return new Set(versions.filter((v) => v.team === team && v.stage === stage).map((v) => `${v.name}/${v.version}`));
}

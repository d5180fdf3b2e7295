import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestBucket, createTestDatabase, python, s3Env } from '../support/server.js';

// Proves the shared services from test/support/global-setup.ts are reachable from a test worker.
describe('integration harness', () => {
  it('creates a PostgreSQL database that accepts queries', async () => {
    const url = await createTestDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; n: number }>('SELECT current_database() AS db, 1 + 1 AS n');
      expect(rows[0]).toEqual({ db: new URL(url).pathname.slice(1), n: 2 });
    } finally {
      await client.end();
    }
  });

  it('runs Python with mlflow 3 and scikit-learn', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lapis-harness-'));
    try {
      const script = join(dir, 'versions.py');
      await writeFile(script, 'import sys, mlflow, sklearn\nprint(mlflow.__version__, sklearn.__version__, sys.argv[1])\n');
      const res = await python(script, ['ok'], {});
      expect(res.stderr).not.toMatch(/Traceback/);
      expect(res.code).toBe(0);
      const [mlflowVersion, , arg] = res.stdout.trim().split(' ');
      expect(mlflowVersion).toMatch(/^3\./);
      expect(arg).toBe('ok');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers S3 ListBuckets on the moto endpoint', async () => {
    const bucket = await createTestBucket();
    const s3 = new S3Client({
      endpoint: s3Env().AWS_ENDPOINT_URL_S3,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      forcePathStyle: true,
    });
    try {
      const { Buckets } = await s3.send(new ListBucketsCommand({}));
      expect(Buckets?.map((b) => b.Name)).toContain(bucket);
    } finally {
      s3.destroy();
    }
  });
});

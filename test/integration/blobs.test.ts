import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobContract } from '../../src/blobs/contract.js';
import { openBlobStore, type BlobStore } from '../../src/blobs/index.js';
import { startMoto, type Moto } from '../support/moto.js';

const BUCKET = 'lapis-blobs';
const REGION = 'us-east-1';

let moto: Moto | undefined;
let admin: S3Client;

function endpoint(): string {
  if (!moto) throw new Error('moto is not running');
  return moto.endpoint;
}

/** A store on a fresh prefix, so every test starts empty without restarting moto. */
function openFresh(prefix = `t-${randomBytes(6).toString('hex')}`): Promise<BlobStore> {
  return openBlobStore(`s3://${BUCKET}/${prefix}`, { s3: { endpoint: endpoint(), region: REGION, forcePathStyle: true } });
}

beforeAll(async () => {
  const python = process.env.LAPIS_TEST_PYTHON;
  if (!python) throw new Error('Set LAPIS_TEST_PYTHON to a Python interpreter with moto[server] installed (scripts/python-test-env.sh builds one).');
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  moto = await startMoto(python);
  admin = new S3Client({ endpoint: moto.endpoint, region: REGION, forcePathStyle: true });
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  admin?.destroy();
  await moto?.stop();
});

blobContract('s3 (moto)', () => openFresh());

describe('S3 backend', () => {
  it('aborts the multipart upload when the body stream fails', async () => {
    const store = await openFresh();
    const failing = Readable.from(
      (async function* () {
        for (let i = 0; i < 20; i++) yield randomBytes(1024 * 1024);
        throw new Error('client went away');
      })(),
    );
    await expect(store.put('half.bin', failing)).rejects.toThrow('client went away');
    const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: store.uri.slice(`s3://${BUCKET}/`.length) }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await store.stat('half.bin')).toBeNull();
    await store.close();
  });

  it('deletes a prefix holding more than one DeleteObjects batch', async () => {
    const store = await openFresh();
    const keys = Array.from({ length: 1005 }, (_, i) => `many/f${String(i).padStart(4, '0')}.txt`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, k)));
    }
    await store.put('other.txt', 'stays');
    expect((await store.list('many')).length).toBe(1005);
    await store.delete('many');
    expect(await store.list('')).toEqual([{ path: 'other.txt', isDir: false, size: 5 }]);
    await store.close();
  });

  it('reads the endpoint from AWS_ENDPOINT_URL_S3 and works at the bucket root', async () => {
    const bucket = `root-${randomBytes(4).toString('hex')}`;
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    process.env.AWS_ENDPOINT_URL_S3 = endpoint();
    let store: BlobStore;
    try {
      store = await openBlobStore(`s3://${bucket}/`);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_S3;
    }
    expect(store.uri).toBe(`s3://${bucket}`);
    await store.put('at/root.txt', 'r');
    const listed = await admin.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['at/root.txt']);
    expect(await store.list('')).toEqual([{ path: 'at', isDir: true }]);
    await store.close();
  });

  it('reports a missing bucket as NOT_FOUND', async () => {
    const store = await openBlobStore('s3://no-such-bucket/x', { s3: { endpoint: endpoint(), forcePathStyle: true } });
    await expect(store.put('k', 'v')).rejects.toMatchObject({ code: 'NOT_FOUND', message: /Bucket 'no-such-bucket' does not exist/ });
    await expect(store.list('')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await store.close();
  });
});

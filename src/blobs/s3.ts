import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LapisError, invalid, notFound } from '../core/errors.js';
import {
  checkKey,
  checkPrefix,
  checkRange,
  rangeNotSatisfiable,
  type BlobBody,
  type BlobEntry,
  type BlobStat,
  type BlobStore,
  type ByteRange,
  type S3StoreOptions,
} from './store.js';

// Memory per streamed put is bounded by about PART_SIZE * QUEUE_SIZE; 10,000 parts allow 80 GiB objects.
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 4;
// DeleteObjects accepts at most 1000 keys, which is also the largest ListObjectsV2 page.
const BATCH = 1000;

export async function openS3BlobStore(bucket: string, prefix: string, options: S3StoreOptions): Promise<BlobStore> {
  const env = process.env;
  // `||`, not `??`: an exported-but-empty variable means "unset" in shell configs.
  const endpoint = options.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || env.MLFLOW_S3_ENDPOINT_URL || undefined;
  const client = new S3Client({
    endpoint,
    // S3-compatible servers (MinIO, moto, Ceph) ignore the region but the SDK requires one.
    region: options.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    // Custom endpoints rarely have wildcard DNS for virtual-hosted buckets.
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    followRegionRedirects: true,
    // Flexible checksums on every request are not supported by all S3-compatible servers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return new S3BlobStore(client, bucket, prefix);
}

class S3BlobStore implements BlobStore {
  readonly uri: string;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {
    this.uri = prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
  }

  async put(key: string, body: BlobBody): Promise<{ size: number }> {
    const k = checkKey(key);
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      await this.send('put', k, () => this.upload(k, body));
      return { size: Buffer.byteLength(body) };
    }
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    // A failing source destroys `counter`, which fails the upload; Upload then aborts the multipart
    // upload, so S3 never completes a partial object.
    const piping = pipeline(body, counter);
    const uploading = this.upload(k, counter).catch((err: unknown) => {
      // Otherwise a stalled `counter` would keep the source paused and `piping` pending forever.
      counter.destroy(err as Error);
      throw err;
    });
    // Wait for both, so the abort has completed when put rejects.
    const [piped, uploaded] = await Promise.allSettled([piping, uploading]);
    if (uploaded.status === 'rejected') this.fail('put', k, uploaded.reason);
    if (piped.status === 'rejected') throw piped.reason;
    return { size };
  }

  /** PutObject for small bodies, a multipart upload (completed or aborted, never left half-done) for larger ones. */
  private async upload(key: string, body: Buffer | string | Readable): Promise<void> {
    await new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.keyOf(key), Body: body },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    }).done();
  }

  async get(key: string, range?: ByteRange): Promise<NodeJS.ReadableStream> {
    const k = checkKey(key);
    if (range) checkRange(range);
    const out = await this.send('get', k, () =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(k),
          Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
        }),
      ),
      range,
    );
    if (!(out.Body instanceof Readable)) throw new LapisError('INTERNAL', `S3 returned no readable body for '${k}'.`);
    return out.Body;
  }

  async stat(key: string): Promise<BlobStat | null> {
    const k = checkKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(k) }));
      return { size: head.ContentLength ?? 0, isDir: false };
    } catch (err) {
      if (!isNotFound(err)) this.fail('stat', k, err);
    }
    const page = await this.listPage(`${this.keyOf(k)}/`, undefined, undefined, 1);
    return (page.KeyCount ?? 0) > 0 ? { size: 0, isDir: true } : null;
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    const dir = this.dirOf(checkPrefix(prefix));
    const entries: BlobEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.listPage(dir, token, '/');
      for (const common of page.CommonPrefixes ?? []) {
        const name = (common.Prefix ?? '').slice(dir.length, -1);
        // '' comes from keys with '//' written by other tools; they have no valid name here.
        if (name !== '') entries.push({ path: name, isDir: true });
      }
      for (const object of page.Contents ?? []) {
        const name = (object.Key ?? '').slice(dir.length);
        // '' is the "folder" marker object some tools create for the prefix itself.
        if (name !== '') entries.push({ path: name, isDir: false, size: object.Size ?? 0 });
      }
      token = page.NextContinuationToken;
    } while (token);
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async *listRecursive(prefix: string): AsyncIterable<{ path: string; size: number }> {
    const dir = this.dirOf(checkPrefix(prefix));
    let token: string | undefined;
    do {
      const page = await this.listPage(dir, token);
      for (const object of page.Contents ?? []) {
        const path = (object.Key ?? '').slice(dir.length);
        // Keys ending in '/' are folder markers, not files.
        if (path !== '' && !path.endsWith('/')) yield { path, size: object.Size ?? 0 };
      }
      token = page.NextContinuationToken;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    const k = checkKey(key);
    const full = this.keyOf(k);
    await this.send('delete', k, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: full })));
    let token: string | undefined;
    do {
      const page = await this.listPage(`${full}/`, token);
      const objects = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (objects.length > 0) {
        const out = await this.send('delete', k, () =>
          this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } })),
        );
        const first = out.Errors?.[0];
        if (first) {
          throw new LapisError(
            'INTERNAL',
            `Could not delete ${out.Errors?.length} object(s) under '${k}' in ${this.uri}: ${first.Key}: ${first.Code} ${first.Message}.`,
          );
        }
      }
      token = page.NextContinuationToken;
    } while (token);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private keyOf(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  /** The listing prefix of a directory key: '' for the bucket root, otherwise ending in '/'. */
  private dirOf(key: string): string {
    const full = key === '' ? this.prefix : this.keyOf(key);
    return full === '' ? '' : `${full}/`;
  }

  private listPage(prefix: string, token: string | undefined, delimiter?: string, maxKeys = BATCH): Promise<ListObjectsV2CommandOutput> {
    return this.send('list', prefix, () =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix === '' ? undefined : prefix,
          Delimiter: delimiter,
          ContinuationToken: token,
          MaxKeys: maxKeys,
        }),
      ),
    );
  }

  private async send<T>(op: string, key: string, call: () => Promise<T>, range?: ByteRange): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.fail(op, key, err, range);
    }
  }

  /** Maps the S3 errors callers can act on to LapisErrors; anything else is rethrown unchanged. */
  private fail(op: string, key: string, err: unknown, range?: ByteRange): never {
    const name = (err as { name?: unknown } | null)?.name;
    if (name === 'NoSuchBucket') {
      throw notFound(`Bucket '${this.bucket}' does not exist; create it or fix the artifact URI ${this.uri}.`);
    }
    if (op === 'get' && isNotFound(err)) throw notFound(`Artifact '${key}' does not exist in ${this.uri}.`, { path: key });
    if (name === 'InvalidRange' && range) throw rangeNotSatisfiable(key, range);
    if (name === 'AccessDenied' || name === 'Forbidden') {
      throw new LapisError('PERMISSION_DENIED', `S3 denied ${op} of '${key}' in ${this.uri}; check the credentials and bucket policy.`);
    }
    if (name === 'InvalidArgument' || name === 'KeyTooLongError') {
      throw invalid(`S3 refused ${op} of '${key}' in ${this.uri}: ${(err as Error).message}`);
    }
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

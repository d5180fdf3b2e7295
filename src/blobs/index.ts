export { checkKey, joinKey, openBlobStore, readText } from './store.js';
export type { BlobBody, BlobEntry, BlobStat, BlobStore, BlobStoreOptions, ByteRange, S3StoreOptions } from './store.js';

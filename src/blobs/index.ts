export { checkKey, joinKey, openBlobStore, readText } from './store.js';
export type { BlobBody, BlobEntry, BlobStaging, BlobStat, BlobStore, BlobStoreOptions, ByteRange, S3StoreOptions, StagedUpload } from './store.js';

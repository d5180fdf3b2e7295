import { randomBytes } from 'node:crypto';

/** MLflow run ids are 32 lowercase hex characters; clients and UIs rely on that shape. */
export function newRunId(): string {
  return randomBytes(16).toString('hex');
}

/** MLflow 3 logged-model ids: `m-` followed by 32 hex characters. */
export function newLoggedModelId(): string {
  return `m-${randomBytes(16).toString('hex')}`;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** MLflow's own run-id rule; job names (which are run ids) use it too. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$/;

import { invalid } from './errors.js';

/**
 * Opaque page tokens. The content is an offset today; clients must treat it as opaque so the
 * encoding can become a keyset cursor without breaking them.
 */
export interface PageToken {
  offset: number;
}

export function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

export function decodePageToken(raw: string | undefined | null): PageToken {
  if (raw === undefined || raw === null || raw === '') return { offset: 0 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid(`Invalid page token '${raw}': pass the next_page_token of a previous response unchanged.`);
  }
  const offset = (parsed as { offset?: unknown } | null)?.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalid(`Invalid page token '${raw}': pass the next_page_token of a previous response unchanged.`);
  }
  return { offset };
}

/** Given one extra row fetched beyond the page, returns the page and the token for the next one. */
export function paginate<T>(rows: T[], offset: number, limit: number): { items: T[]; nextPageToken: string | undefined } {
  if (rows.length > limit) {
    return { items: rows.slice(0, limit), nextPageToken: encodePageToken({ offset: offset + limit }) };
  }
  return { items: rows, nextPageToken: undefined };
}

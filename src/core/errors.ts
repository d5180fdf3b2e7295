/**
 * One error type for the whole server. `code` is a closed set; the HTTP status and the MLflow
 * `error_code` are derived from it in one table, so every surface reports the same failure alike.
 */
export const ERROR_CODES = {
  INVALID_ARGUMENT: { status: 400, mlflow: 'INVALID_PARAMETER_VALUE' },
  BAD_REQUEST: { status: 400, mlflow: 'BAD_REQUEST' },
  // MLflow answers "already exists" with 400, not 409; its client relies on it.
  ALREADY_EXISTS: { status: 400, mlflow: 'RESOURCE_ALREADY_EXISTS' },
  UNAUTHENTICATED: { status: 401, mlflow: 'UNAUTHENTICATED' },
  PERMISSION_DENIED: { status: 403, mlflow: 'PERMISSION_DENIED' },
  NOT_FOUND: { status: 404, mlflow: 'RESOURCE_DOES_NOT_EXIST' },
  ENDPOINT_NOT_FOUND: { status: 404, mlflow: 'ENDPOINT_NOT_FOUND' },
  CONFLICT: { status: 409, mlflow: 'RESOURCE_CONFLICT' },
  PAYLOAD_TOO_LARGE: { status: 413, mlflow: 'INVALID_PARAMETER_VALUE' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, mlflow: 'BAD_REQUEST' },
  REQUEST_TIMEOUT: { status: 408, mlflow: 'INTERNAL_ERROR' },
  RESOURCE_EXHAUSTED: { status: 429, mlflow: 'REQUEST_LIMIT_EXCEEDED' },
  INTERNAL: { status: 500, mlflow: 'INTERNAL_ERROR' },
  NOT_IMPLEMENTED: { status: 501, mlflow: 'NOT_IMPLEMENTED' },
  BAD_GATEWAY: { status: 502, mlflow: 'INTERNAL_ERROR' },
  UNAVAILABLE: { status: 503, mlflow: 'TEMPORARILY_UNAVAILABLE' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class LapisError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'LapisError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get mlflowCode(): string {
    return ERROR_CODES[this.code].mlflow;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export const invalid = (message: string, details?: Record<string, unknown>): LapisError =>
  new LapisError('INVALID_ARGUMENT', message, details);

export const notFound = (message: string, details?: Record<string, unknown>): LapisError =>
  new LapisError('NOT_FOUND', message, details);

export const alreadyExists = (message: string, details?: Record<string, unknown>): LapisError =>
  new LapisError('ALREADY_EXISTS', message, details);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** The status-code table inverted for clients that only see an MLflow error code. */
export function codeFromMlflow(mlflowCode: string): ErrorCode {
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    if (entry.mlflow === mlflowCode) return code as ErrorCode;
  }
  return 'INTERNAL';
}

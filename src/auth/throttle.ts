/**
 * Login throttling: after `maxFailures` wrong passwords for one user name (from any address) the
 * name is locked for `lockMs`, doubling on each further lock. In memory: a restart resets it, which
 * costs an attacker a restart they cannot cause.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; lockedUntil: number; locks: number }>();

  constructor(
    readonly maxFailures = 5,
    readonly lockMs = 60_000,
  ) {}

  /** Milliseconds until the name may try again; 0 if it may try now. */
  retryAfter(name: string, now = Date.now()): number {
    const entry = this.#failures.get(name);
    return entry && entry.lockedUntil > now ? entry.lockedUntil - now : 0;
  }

  fail(name: string, now = Date.now()): void {
    const entry = this.#failures.get(name) ?? { count: 0, lockedUntil: 0, locks: 0 };
    entry.count += 1;
    if (entry.count >= this.maxFailures) {
      entry.lockedUntil = now + this.lockMs * 2 ** Math.min(entry.locks, 10);
      entry.locks += 1;
      entry.count = 0;
    }
    this.#failures.set(name, entry);
  }

  succeed(name: string): void {
    this.#failures.delete(name);
  }
}

/** A token bucket per principal: `perMinute` requests a minute, bursts up to the same number. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(readonly perMinute: number) {}

  /** 0 if the request may proceed, else milliseconds until it may. */
  take(key: string, now = Date.now()): number {
    if (this.perMinute <= 0) return 0;
    const rate = this.perMinute / 60_000;
    const bucket = this.#buckets.get(key) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * rate);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / rate);
  }
}

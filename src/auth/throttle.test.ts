import { describe, expect, it } from 'vitest';
import { LoginThrottle, RateLimiter } from './throttle.js';

const T0 = 1_700_000_000_000;

describe('LoginThrottle', () => {
  it('locks a name after 5 failures, for 60 s', () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 4; i++) {
      t.fail('ana', T0 + i);
      expect(t.retryAfter('ana', T0 + i), `after ${i + 1} failures`).toBe(0);
    }
    t.fail('ana', T0 + 10);
    expect(t.retryAfter('ana', T0 + 10)).toBe(60_000);
    expect(t.retryAfter('ana', T0 + 10 + 59_999)).toBe(1);
    expect(t.retryAfter('ana', T0 + 10 + 60_000)).toBe(0);
  });

  it('locks per name: other names are unaffected', () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 5; i++) t.fail('ana', T0);
    expect(t.retryAfter('ana', T0)).toBe(60_000);
    expect(t.retryAfter('bob', T0)).toBe(0);
    expect(t.retryAfter('ANA', T0)).toBe(0);
  });

  it('doubles the lock on each further lock (60 s, 120 s, 240 s, …), capped at 2^10', () => {
    const t = new LoginThrottle();
    let now = T0;
    const locks: number[] = [];
    for (let lock = 0; lock < 13; lock++) {
      for (let i = 0; i < 5; i++) t.fail('ana', now);
      const wait = t.retryAfter('ana', now);
      locks.push(wait);
      now += wait; // wait out the lock, then fail 5 more times
    }
    expect(locks.slice(0, 4)).toEqual([60_000, 120_000, 240_000, 480_000]);
    expect(locks[10]).toBe(60_000 * 1024);
    expect(locks[11]).toBe(60_000 * 1024);
    expect(locks[12]).toBe(60_000 * 1024);
  });

  it('a success resets the count and the doubling', () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 4; i++) t.fail('ana', T0);
    t.succeed('ana');
    for (let i = 0; i < 4; i++) t.fail('ana', T0);
    expect(t.retryAfter('ana', T0)).toBe(0);
    t.fail('ana', T0);
    expect(t.retryAfter('ana', T0)).toBe(60_000);
    // A second lock would be 120 s; a success in between resets it to 60 s.
    t.succeed('ana');
    for (let i = 0; i < 5; i++) t.fail('ana', T0 + 1);
    expect(t.retryAfter('ana', T0 + 1)).toBe(60_000);
  });

  it('honours custom limits', () => {
    const t = new LoginThrottle(2, 1_000);
    t.fail('x', T0);
    expect(t.retryAfter('x', T0)).toBe(0);
    t.fail('x', T0);
    expect(t.retryAfter('x', T0)).toBe(1_000);
  });
});

describe('RateLimiter', () => {
  it('allows a burst of perMinute requests, then answers the wait for one token', () => {
    const r = new RateLimiter(30); // one token every 2 s
    for (let i = 0; i < 30; i++) expect(r.take('p', T0), `request ${i + 1}`).toBe(0);
    expect(r.take('p', T0)).toBe(2_000);
    expect(r.take('p', T0 + 500)).toBe(1_500);
  });

  it('refills at perMinute/60 s per ms and never above the burst', () => {
    const r = new RateLimiter(60); // 1 token a second
    for (let i = 0; i < 60; i++) r.take('p', T0);
    expect(r.take('p', T0)).toBe(1_000);
    expect(r.take('p', T0 + 1_000)).toBe(0); // one token refilled
    expect(r.take('p', T0 + 1_000)).toBe(1_000);
    // After an hour idle, the bucket holds 60, not 3600.
    const later = T0 + 3_600_000;
    for (let i = 0; i < 60; i++) expect(r.take('p', later)).toBe(0);
    expect(r.take('p', later)).toBe(1_000);
  });

  it('denied requests do not consume tokens', () => {
    const r = new RateLimiter(60);
    for (let i = 0; i < 60; i++) r.take('p', T0);
    for (let i = 0; i < 100; i++) expect(r.take('p', T0 + 10)).toBe(990);
    expect(r.take('p', T0 + 1_000)).toBe(0);
  });

  it('keeps one bucket per key', () => {
    const r = new RateLimiter(2);
    expect(r.take('a', T0)).toBe(0);
    expect(r.take('a', T0)).toBe(0);
    expect(r.take('a', T0)).toBeGreaterThan(0);
    expect(r.take('b', T0)).toBe(0);
  });

  it('rounds the wait up to a whole millisecond', () => {
    const r = new RateLimiter(7); // 60000/7 ≈ 8571.43 ms a token
    for (let i = 0; i < 7; i++) r.take('p', T0);
    expect(r.take('p', T0)).toBe(Math.ceil(60_000 / 7));
  });

  it('0 means unlimited', () => {
    const r = new RateLimiter(0);
    for (let i = 0; i < 10_000; i++) expect(r.take('p', T0)).toBe(0);
  });
});

/** Epoch milliseconds, UTC. One seam so tests and replays can pin time. */
export const now = (): number => Date.now();

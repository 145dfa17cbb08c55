/** Retry delays: exponential with jitter, capped. */

/** Delay before retry number `attempt` (1-based): base·2^(attempt−1), capped, times 0.5–1 jitter. */
export function retryDelay(attempt: number, base: number, cap: number, jitter: number): number {
  const raw = Math.min(cap, base * Math.pow(2, Math.max(0, attempt - 1)));
  return Math.round(raw * (0.5 + 0.5 * jitter));
}

/** Statuses worth retrying: network error (0), timeouts, throttling and server errors. */
export function isRetriable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * Waiting in tests for work another part of the stack finishes on its own (a queue trigger, a fire-and-forget
 * record, a page that renders after its read). The bound only stops a test that would otherwise hang: it is not a
 * speed check, so it is generous, and a slow machine waits longer rather than failing.
 */
export const EVENTUALLY_BOUND_MS = 120_000;

/** Polls `probe` every `everyMs` until it answers something other than undefined, null or false; answers that. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null | false>,
  what: string,
  { everyMs = 50, boundMs = EVENTUALLY_BOUND_MS }: { everyMs?: number; boundMs?: number } = {},
): Promise<T> {
  const stopAt = Date.now() + boundMs;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined && answer !== null && answer !== false) return answer;
    if (Date.now() > stopAt) throw new Error(`${what}: not within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** An import job, read by `read` (its status route), once it is done or failed. */
export const importSettled = <J extends { status?: unknown }>(read: () => Promise<J>, location: string) =>
  eventually(
    async () => {
      const job = await read();
      return (job.status === 'done' || job.status === 'failed') && job;
    },
    `import ${location} finishing`,
    { everyMs: 100 },
  );

/** An incident, read by `read` (its route), once it has `status`. */
export const incidentReaches = <I extends { status?: unknown }>(read: () => Promise<I>, id: string, status: string) =>
  eventually(
    async () => {
      const incident = await read();
      return incident.status === status && incident;
    },
    `incident ${id} reaching ${status}`,
    { everyMs: 100 },
  );

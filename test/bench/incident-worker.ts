/**
 * One incident worker process, as Functions instances run it from the queue: share after share of the incident's
 * work (each bounded by INCIDENT_BUDGET_MS, well under the host's functionTimeout), until nothing more remains.
 */
import 'reflect-metadata';

import { incidentRepositories, lazyServices } from '../../shared/composition';
import { advanceIncident } from '../../shared/incidents';
import { WORKER_OVERRAN } from './support';

// As the function app reads it: above this many devices on a hub, containment takes an import job.
const threshold = Number(process.env.HUB_IMPORT_JOB_THRESHOLD) || undefined;
const budgetMs = Number(process.env.INCIDENT_BUDGET_MS) || undefined;
// The host's functionTimeout: a share still running then is killed, as the Functions host kills an invocation.
const timeoutMs = Number(process.env.FUNCTION_TIMEOUT_MS) || 10 * 60_000;

async function main(id: string): Promise<string | undefined> {
  const lazy = lazyServices(process.env);
  const deps = {
    ...lazy,
    ...incidentRepositories(lazy),
    retry: { attempts: 50 },
    importJobThreshold: threshold,
    budgetMs,
  };
  let shares = 0;
  for (;;) {
    const watchdog = setTimeout(() => {
      console.error(`incident ${id}: a share overran functionTimeout (${timeoutMs} ms) and was killed`);
      process.exit(WORKER_OVERRAN);
    }, timeoutMs);
    const { incident, more, retryAfterMs } = await advanceIncident(deps, id);
    clearTimeout(watchdog);
    // Another worker's lease (one killed mid-share): the queue would bring the message back when it ends.
    if (retryAfterMs) await new Promise((r) => setTimeout(r, retryAfterMs));
    shares++;
    if (!more) {
      console.error(`incident ${id}: ${incident?.status} after ${shares} shares`);
      return incident?.status;
    }
  }
}

main(process.argv[2]).then(
  (status) => {
    console.log(`status=${status}`);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

/** One incident worker process (what a Functions instance runs from the queue): runs an incident to its end. */
import 'reflect-metadata';

import { lazyServices } from '../../shared/composition';
import { runIncident } from '../../shared/use-cases/incidents';

// As the function app reads it: above this many devices on a hub, containment takes an import job.
const threshold = Number(process.env.HUB_IMPORT_JOB_THRESHOLD) || undefined;

runIncident(
  { ...lazyServices(process.env), retry: { attempts: 50 }, importJobThreshold: threshold },
  process.argv[2],
).then(
  (doc) => {
    console.log(`status=${doc?.status}`);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

/** One incident worker process (what a Functions instance runs from the queue): runs an incident to its end. */
import 'reflect-metadata';
import { lazyServices } from '../../shared/composition';
import { runIncident } from '../../shared/use-cases/incidents';

runIncident({ ...lazyServices(process.env), retry: { attempts: 50 } }, process.argv[2]).then(
  (doc) => { console.log(`status=${doc?.status}`); process.exit(0); },
  (err) => { console.error(err); process.exit(1); },
);

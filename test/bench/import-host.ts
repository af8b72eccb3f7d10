/** A Functions instance for the import benchmark: the local host with the queue worker driven; prints `port=N`. */
import 'reflect-metadata';

import { startFunctionsHost } from '../../dev/host/host';

(async () => {
  const { registeredFunctions } = await import('../../functions/index');
  const host = await startFunctionsHost({
    registrations: registeredFunctions(),
    port: 0,
    functionKey: 'fk',
    masterKey: 'mk',
    env: process.env,
    runTimers: false,
    queue: { batchSize: 16, retryDelaySeconds: 1, visibilityTimeoutSeconds: 15 },
    log: () => undefined,
  });
  console.log(`port=${host.port}`);
})().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

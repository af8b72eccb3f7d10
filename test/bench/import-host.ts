/**
 * A Functions instance for the import benchmark: the local host with the queues driven (only those named in
 * BENCH_QUEUES, when set); prints `port=N`.
 */
import 'reflect-metadata';

import { startFunctionsHost } from '../../dev/host/host';

(async () => {
  const { registeredFunctions } = await import('../../functions/index');
  const only = process.env.BENCH_QUEUES?.split(',');
  const host = await startFunctionsHost({
    registrations: registeredFunctions().filter(
      (r) => !only || r.trigger !== 'storageQueue' || only.includes(r.options.queueName),
    ),
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

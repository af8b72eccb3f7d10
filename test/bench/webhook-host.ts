/**
 * The function app as the bench measures it: the registered handlers behind the local host, settings from env.
 * Queue triggers are not driven: in Azure the Functions host polls queues outside the Node worker, so polling here
 * would only add the local host's own work to the webhook's figures.
 */
import 'reflect-metadata';

import { startFunctionsHost } from '../../dev/host/host';

async function main(): Promise<void> {
  const { registeredFunctions } = await import('../../functions/index');
  const host = await startFunctionsHost({
    registrations: registeredFunctions(),
    port: Number(process.env.PORT ?? 0),
    functionKey: 'bench',
    masterKey: 'bench-master',
    env: process.env,
    runTimers: false,
    driveQueues: false,
    log: () => undefined,
  });
  console.log(`port=${host.port}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
void main();

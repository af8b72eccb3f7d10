/**
 * The entry point the Functions host loads (`main` in package.json). Importing a trigger file adds it to the
 * registration list; inside the host, the list is handed to `app.*`. Outside it (the local host, tests) `app.*` would
 * only warn that it is in test mode, so it is not called there.
 */
import 'reflect-metadata';
import './health';
import './allocate';
import './incidents';
import './imports';
import './certificates';
import './findings';
import './console';

import { app } from '@azure/functions';

import { startMonitoring } from '../shared/composition';
import { assertNoLocalSettingsInAzure } from '../shared/settings';
import { type FunctionRegistration, registeredFunctions } from './edge/registry';

/** The Node worker of the Functions host serves the built-in module `@azure/functions-core`; nothing else does. */
function insideFunctionsHost(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a probe for the host's built-in module, not a dependency
    require('@azure/functions-core');
    return true;
  } catch {
    return false;
  }
}

function registerWithHost(r: FunctionRegistration): void {
  if (r.trigger === 'http') app.http(r.name, r.options);
  else if (r.trigger === 'timer') app.timer(r.name, r.options);
  else if (r.trigger === 'storageQueue') app.storageQueue(r.name, r.options);
  else app.eventHub(r.name, r.options);
}

if (insideFunctionsHost()) {
  // Development secrets (the local bearer secrets, keyed connection strings, files) are never accepted in Azure.
  assertNoLocalSettingsInAzure(process.env);
  // Uploads of hundreds of MB reach the import function as a stream, not a buffer.
  app.setup({ enableHttpStream: true });
  for (const registration of registeredFunctions()) registerWithHost(registration);
  // Azure Monitor for our own metrics, once the functions are registered: off the first request's path.
  setImmediate(() =>
    startMonitoring(process.env).catch((err: unknown) => console.error(`Azure Monitor not started: ${String(err)}`)),
  );
}

export { registeredFunctions };

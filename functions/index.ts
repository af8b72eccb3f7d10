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
import './groups';

import { app } from '@azure/functions';

import { refuseLocalSettingsInAzure, startMonitoringSoon } from '../shared/composition';
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
  refuseLocalSettingsInAzure();
  // Uploads of hundreds of MB reach the import function as a stream, not a buffer.
  app.setup({ enableHttpStream: true });
  for (const registration of registeredFunctions()) registerWithHost(registration);
  startMonitoringSoon();
}

export { registeredFunctions };

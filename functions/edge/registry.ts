/**
 * One registration list for every function: `@azure/functions` keeps no registry that can be read back, so each
 * trigger file adds itself here as plain data. `functions/index.ts` hands the list to `app.*` inside the Functions
 * host; the local host (dev/host) and the tests read the same list. Every HTTP handler is wrapped in the one
 * error-to-HTTP mapping (http-errors.ts) and, unless it says otherwise, refuses cross-site simple requests
 * (simple-requests.ts).
 */
import type {
  EventHubFunctionOptions,
  HttpFunctionOptions,
  StorageQueueFunctionOptions,
  TimerFunctionOptions,
} from '@azure/functions';

import { withHttpErrors } from './http-errors';
import { refusingSimpleRequests } from './simple-requests';

export type FunctionRegistration =
  | { name: string; trigger: 'http'; options: HttpFunctionOptions }
  | { name: string; trigger: 'timer'; options: TimerFunctionOptions }
  | { name: string; trigger: 'storageQueue'; options: StorageQueueFunctionOptions }
  | { name: string; trigger: 'eventHub'; options: EventHubFunctionOptions };

const registrations: FunctionRegistration[] = [];

function add(registration: FunctionRegistration): void {
  if (registrations.some((r) => r.name === registration.name))
    throw new Error(`function ${registration.name} is registered twice`);
  registrations.push(registration);
}

export interface EdgeOptions {
  /**
   * 'accepted': a POST without a Content-Type or with a simple one (text/plain, a form's) reaches the handler. Only
   * for a caller that is no browser and whose content type is not ours to demand (DPS calling the webhook); every
   * other state-changing route refuses them with a 415 (simple-requests.ts).
   */
  simpleRequests?: 'accepted';
}

export function http(name: string, options: HttpFunctionOptions, edge: EdgeOptions = {}): void {
  const handler = edge.simpleRequests === 'accepted' ? options.handler : refusingSimpleRequests(options.handler);
  add({ name, trigger: 'http', options: { ...options, handler: withHttpErrors(handler) } });
}

export function timer(name: string, options: TimerFunctionOptions): void {
  add({ name, trigger: 'timer', options });
}

export function storageQueue(name: string, options: StorageQueueFunctionOptions): void {
  add({ name, trigger: 'storageQueue', options });
}

export function eventHub(name: string, options: EventHubFunctionOptions): void {
  add({ name, trigger: 'eventHub', options });
}

export function registeredFunctions(): readonly FunctionRegistration[] {
  return registrations;
}

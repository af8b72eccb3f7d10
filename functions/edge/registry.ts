/**
 * One registration list for every function: `@azure/functions` keeps no registry that can be read back, so each
 * trigger file adds itself here as plain data. `functions/index.ts` hands the list to `app.*` inside the Functions
 * host; the local host (dev/host) and the tests read the same list. Every HTTP handler is wrapped in the one
 * error-to-HTTP mapping (http-errors.ts).
 */
import type {
  EventHubFunctionOptions,
  HttpFunctionOptions,
  StorageQueueFunctionOptions,
  TimerFunctionOptions,
} from '@azure/functions';

import { withHttpErrors } from './http-errors';

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

export function http(name: string, options: HttpFunctionOptions): void {
  add({ name, trigger: 'http', options: { ...options, handler: withHttpErrors(options.handler) } });
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

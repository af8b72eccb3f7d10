/**
 * One registration list for every function (DESIGN.md: `@azure/functions` keeps no registry you can read back).
 * Each trigger file registers itself through these helpers: the real Functions host gets the `app.*` call, and the
 * local host (dev/host) reads the same list as plain data.
 */
import {
  app,
  type EventHubFunctionOptions,
  type HttpFunctionOptions,
  type StorageQueueFunctionOptions,
  type TimerFunctionOptions,
} from '@azure/functions';

export type FunctionRegistration =
  | { name: string; trigger: 'http'; options: HttpFunctionOptions }
  | { name: string; trigger: 'timer'; options: TimerFunctionOptions }
  | { name: string; trigger: 'storageQueue'; options: StorageQueueFunctionOptions }
  | { name: string; trigger: 'eventHub'; options: EventHubFunctionOptions };

const registrations: FunctionRegistration[] = [];

function add(registration: FunctionRegistration): void {
  if (registrations.some((r) => r.name === registration.name)) throw new Error(`function ${registration.name} is registered twice`);
  registrations.push(registration);
}

export function http(name: string, options: HttpFunctionOptions): void {
  add({ name, trigger: 'http', options });
  app.http(name, options);
}

export function timer(name: string, options: TimerFunctionOptions): void {
  add({ name, trigger: 'timer', options });
  app.timer(name, options);
}

export function storageQueue(name: string, options: StorageQueueFunctionOptions): void {
  add({ name, trigger: 'storageQueue', options });
  app.storageQueue(name, options);
}

export function eventHub(name: string, options: EventHubFunctionOptions): void {
  add({ name, trigger: 'eventHub', options });
  app.eventHub(name, options);
}

export function registeredFunctions(): readonly FunctionRegistration[] {
  return registrations;
}

/**
 * The local Functions host as the integration tests run it: a free port, the keys `fk` (function), `mk` (master) and
 * `ck` (the console's functions only), no timers (tests run them on demand), and quiet. Each test says only what differs: its functions, its settings,
 * whether queues are driven and how retries are paced.
 */
import { type HostOptions, type RunningHost, startFunctionsHost } from '../../dev/host/host';
import { consoleFunctionKeys } from '../../functions/edge/console-key';

export const FUNCTION_KEY = 'fk';
export const MASTER_KEY = 'mk';
/** The console's key, on the console's functions only (as `npm start` gives it). */
export const CONSOLE_KEY = 'ck';

export function startAppHost(
  options: Pick<HostOptions, 'registrations' | 'env'> & Partial<HostOptions>,
): Promise<RunningHost> {
  return startFunctionsHost({
    port: 0,
    functionKey: FUNCTION_KEY,
    masterKey: MASTER_KEY,
    functionKeys: consoleFunctionKeys(CONSOLE_KEY),
    runTimers: false,
    log: () => undefined,
    ...options,
  });
}

/**
 * The whole function app on the local host, over the stack whose settings are in `process.env`: queues driven
 * (retries after a second), and the imports' enrollments pointed at its allocation webhook, as `npm start` does.
 */
export async function startFunctionApp(options: Partial<HostOptions> = {}): Promise<RunningHost> {
  const { registeredFunctions } = await import('../../functions/index');
  const host = await startAppHost({
    registrations: registeredFunctions(),
    env: process.env,
    queue: { retryDelaySeconds: 1 },
    ...options,
  });
  process.env.ALLOCATION_WEBHOOK_URL = `${host.baseUrl}/api/allocate?code=${FUNCTION_KEY}`;
  return host;
}

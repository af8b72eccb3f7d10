/**
 * The local Functions host as the integration tests run it: a free port, the keys `fk` (function) and `mk` (master),
 * no timers (tests run them on demand), and quiet. Each test says only what differs: its functions, its settings,
 * whether queues are driven and how retries are paced.
 */
import { type HostOptions, type RunningHost, startFunctionsHost } from '../../dev/host/host';

export const FUNCTION_KEY = 'fk';
export const MASTER_KEY = 'mk';

export function startAppHost(
  options: Pick<HostOptions, 'registrations' | 'env'> & Partial<HostOptions>,
): Promise<RunningHost> {
  return startFunctionsHost({
    port: 0,
    functionKey: FUNCTION_KEY,
    masterKey: MASTER_KEY,
    runTimers: false,
    log: () => undefined,
    ...options,
  });
}

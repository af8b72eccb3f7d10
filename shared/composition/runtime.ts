/**
 * The process's allocation runtime and its start-up: who may call, the webhook's snapshots, the settings refused in
 * Azure, Azure Monitor.
 */
import { AllocationRuntime } from '../allocation/runtime';
import { allocationSources, POLICY_DOCUMENT_ID } from '../allocation/sources';
import { parseLocalSecrets } from '../auth/caller';
import { MANUFACTURERS_DOCUMENT_ID } from '../auth/manufacturers';
import { deviceCertificateRecorder } from '../certificates/device-certificates';
import { importConfigSource } from '../imports/config';
import { assertNoLocalSettingsInAzure, setting } from '../settings';
import { onceSync } from './once';
import { appMetrics, configDocument, services, startMonitoring } from './services';
import { appEnv } from './use-cases';

/** Who may call, and the makers' configuration: built once, on the first call that needs them. */
export const callerSettings = onceSync(() => {
  const env = appEnv();
  return {
    importConfig: importConfigSource(configDocument(env, 'manufacturersFile', MANUFACTURERS_DOCUMENT_ID, services())),
    localSecrets: parseLocalSecrets(setting(env, 'localBearerSecrets')),
    // Set by the platform (not by us) when App Service Authentication is on.
    platformAuth: env.WEBSITE_AUTH_ENABLED?.toLowerCase() === 'true',
  };
});

/**
 * The process's allocation runtime: the webhook decides from its snapshots, and containment pushes deny entries
 * into the same instance so this process refuses a revoked device at once.
 */
export const allocationRuntime = onceSync(() => {
  const s = services();
  return new AllocationRuntime(
    allocationSources(configDocument(appEnv(), 'allocationPolicyFile', POLICY_DOCUMENT_ID, s), s, s.denyList),
    {
      log: (line) => console.log(line),
      metrics: appMetrics(),
      onDeviceCertificate: deviceCertificateRecorder(
        () => s.certificates(),
        () => s.store(),
        () => s.events(),
        (line) => console.log(line),
      ),
    },
  );
});

/** Where DPS is configured, the webhook's snapshots are loaded as the app starts, before DPS's first call. */
export function warmAllocation(): void {
  if (setting(appEnv(), 'dpsHostName')) void allocationRuntime().start();
}

/** Development secrets (the local bearer secrets, keyed connection strings, files) are never accepted in Azure. */
export function refuseLocalSettingsInAzure(): void {
  assertNoLocalSettingsInAzure(appEnv());
}

/** Azure Monitor for our own metrics where configured, once the functions are registered: off the first request's path. */
export function startMonitoringSoon(): void {
  setImmediate(() =>
    startMonitoring(appEnv()).catch((err: unknown) => console.error(`Azure Monitor not started: ${String(err)}`)),
  );
}

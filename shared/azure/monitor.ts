/**
 * Azure Monitor for the function app's own metrics: the OpenTelemetry distro, exporting with the app's managed
 * identity (Application Insights has local authentication off). Started after the functions are registered, off
 * the first request's path; only metrics are taken over (the Functions host already reports requests and logs).
 */
import { ManagedIdentityCredential } from '@azure/identity';

import { type Env, setting } from '../settings';
import { instrumentsFromProviderNow } from './metrics';

export async function startAzureMonitor(env: Env): Promise<boolean> {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  if (!connectionString) return false;
  const { useAzureMonitor } = await import('@azure/monitor-opentelemetry');
  const clientId = setting(env, 'clientId');
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString,
      credential: clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential(),
    },
    enableLiveMetrics: false,
    instrumentationOptions: {
      http: { enabled: false },
      azureSdk: { enabled: false },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
    },
  });
  instrumentsFromProviderNow();
  return true;
}

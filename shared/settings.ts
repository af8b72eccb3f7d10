/**
 * Every app setting the backend reads, in one place, so that `infra/` can be checked against it.
 * Identity-based connections follow the Functions convention (`<NAME>__accountEndpoint`, `__credential`,
 * `__clientId`); a plain `<NAME>` holding a connection string is for the local stack.
 */
export const SETTINGS = {
  dpsHostName: 'DPS_HOST_NAME',
  dpsConnectionString: 'DPS_CONNECTION_STRING',
  dpsIdScope: 'DPS_ID_SCOPE',
  /**
   * The DPS instance's operations a minute as configured or documented (default 1,000): where the shared pace of every
   * DPS call starts; the pace then learns what DPS really allows (shared/pacing).
   */
  dpsOperationsPerMinute: 'DPS_OPERATIONS_PER_MINUTE',
  /**
   * A DPS or IoT Hub call without an answer this long (ms, default 30000) is abandoned as a lost answer; bulk writes and
   * import jobs' starts get twice as long (shared/azure/iot-deadlines.ts).
   */
  iotDeadlineMs: 'IOT_DEADLINE_MS',
  hubHostNames: 'IOTHUB_HOST_NAMES',
  hubConnectionStrings: 'IOTHUB_CONNECTION_STRINGS',
  cosmosConnection: 'COSMOS_CONNECTION',
  cosmosEndpoint: 'COSMOS_CONNECTION__accountEndpoint',
  cosmosDatabase: 'COSMOS_DATABASE',
  storageConnection: 'AzureWebJobsStorage',
  storageQueueServiceUri: 'AzureWebJobsStorage__queueServiceUri',
  /** Blob containers for IoT Hub import jobs (the hubs read them with their own identity). */
  storageBlobServiceUri: 'AzureWebJobsStorage__blobServiceUri',
  eventHubConnection: 'EVENTHUB_CONNECTION',
  eventHubNamespace: 'EVENTHUB_CONNECTION__fullyQualifiedNamespace',
  eventHubName: 'EVENTHUB_NAME',
  eventLogPath: 'EVENT_LOG_PATH',
  clientId: 'AZURE_CLIENT_ID',
  /** Local stack: the allocation policy as a file; in Azure it is the `allocation` document of the `policies` container. */
  allocationPolicyFile: 'ALLOCATION_POLICY_FILE',
  /** The allocation webhook as DPS calls it (URL with its function key): imported enrollments use custom allocation through it. A Key Vault reference in Azure. */
  allocationWebhookUrl: 'ALLOCATION_WEBHOOK_URL',
  /** Devices on one hub above which containment deletes with an IoT Hub import job instead of bulk calls (default 1000). */
  hubImportJobThreshold: 'HUB_IMPORT_JOB_THRESHOLD',
  /** Plans of at most this many devices that disable no group and no CA, submitted by an admin over HTTP, run without waiting for approval (default 10). */
  incidentAutoApproveMaxDevices: 'INCIDENT_AUTO_APPROVE_MAX_DEVICES',
  /** `false` lets the submitter of a wide plan approve it too; by default another admin must (four eyes). */
  incidentFourEyes: 'INCIDENT_FOUR_EYES',
  /** An alert refuses at once at most this many of the certificates and devices it names (default 100). */
  incidentAlertImmediateDenyMax: 'INCIDENT_ALERT_IMMEDIATE_DENY_MAX',
  /** Certificates issued longer ago than this many days are raised as CERT_TOO_OLD. */
  certMaxAgeDays: 'CERT_MAX_AGE_DAYS',
  /** Local stack: the DPS instance's verified CA certificates as a file; in Azure the `dps-ca-certificates` policy document. */
  dpsCaCertificatesFile: 'DPS_CA_CERTIFICATES_FILE',
  /** Certificate expiry horizons in days, loosest first (default 90,30,7); each is raised once per certificate. */
  expiryHorizonsDays: 'EXPIRY_HORIZONS_DAYS',
  /** Issued (ADR) certificates are due for renewal at this percentage of their validity (default 80); past it, a finding. */
  certRenewalPercent: 'CERT_RENEWAL_PERCENT',
  /** The largest file a maker may import, in bytes (default 10 GB); over the limit, a 413 or a failed job. */
  importMaxFileBytes: 'IMPORT_MAX_FILE_BYTES',
  /** The most rows one import file may hold (default 50,000,000). */
  importMaxRows: 'IMPORT_MAX_ROWS',
  /** `/subscriptions/{id}/resourceGroups/{name}` holding the Azure Device Registry namespaces the enrollments name. */
  adrResourceGroupId: 'ADR_RESOURCE_GROUP_ID',
  /**
   * The ADR namespace DPS is linked to (a DPS instance links one): every registry device DPS creates is there, and an
   * incident or a group may name only its certificate policies. Unset: the backend administers no ADR namespace.
   */
  adrNamespace: 'ADR_NAMESPACE',
  /** Local stack: manufacturers and TPM vendor CAs as a file; in Azure the `manufacturers` document of the `policies` container. */
  manufacturersFile: 'MANUFACTURERS_FILE',
  /** Local stack only: bearer secrets standing in for Entra ID, `manufacturerId=secret,@admin=secret`. */
  localBearerSecrets: 'LOCAL_BEARER_SECRETS',
  /** Local stack only: trust this CA (PEM file) for every HTTPS client. */
  localCaFile: 'LOCAL_CA_FILE',
  /** Local stack only: dial IoT Hub and DPS host names at this loopback `host:port`, keeping the real name for SNI. */
  localIotEndpoint: 'LOCAL_IOT_ENDPOINT',
} as const;

export type SettingKey = keyof typeof SETTINGS;

/**
 * Settings only the local stack sets: connection strings with keys (Azure uses identities instead), the local CA,
 * the file event log and policy file. Azure's app settings (infra/) set every other setting, and no more.
 */
export const LOCAL_ONLY_SETTINGS: ReadonlySet<SettingKey> = new Set<SettingKey>([
  'dpsConnectionString',
  'hubConnectionStrings',
  'cosmosConnection',
  'storageConnection',
  'eventHubConnection',
  'eventLogPath',
  'allocationPolicyFile',
  'localCaFile',
  'localIotEndpoint',
  'manufacturersFile',
  'localBearerSecrets',
  'dpsCaCertificatesFile',
]);
export type Env = Record<string, string | undefined>;

export function setting(env: Env, key: SettingKey): string | undefined {
  const value = env[SETTINGS[key]];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * A numeric setting: undefined when unset, not a number, or refused by `accept` (the caller's default then applies).
 * The one parser of numbers in the app settings.
 */
export function numberSetting(
  env: Env,
  key: SettingKey,
  accept: (n: number) => boolean = Number.isFinite,
): number | undefined {
  const raw = setting(env, key);
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && accept(n) ? n : undefined;
}

export function requireSetting(env: Env, key: SettingKey): string {
  const value = setting(env, key);
  if (value === undefined) throw new Error(`App setting ${SETTINGS[key]} is required but not set.`);
  return value;
}

/** Comma-separated list setting; empty entries dropped. */
export function listSetting(env: Env, key: SettingKey): string[] {
  return (setting(env, key) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The local-only settings present in an environment that is Azure App Service (the platform sets WEBSITE_SITE_NAME
 * and WEBSITE_INSTANCE_ID): there, a development secret or a connection string with a key must never be accepted.
 */
export function localSettingsInAzure(env: Env): string[] {
  const inAzure = Boolean(env.WEBSITE_SITE_NAME || env.WEBSITE_INSTANCE_ID);
  if (!inAzure) return [];
  return [...[...LOCAL_ONLY_SETTINGS].map((key) => SETTINGS[key]), ...SECRET_CREDENTIAL_VARIABLES].filter(
    (name) => env[name] !== undefined && env[name] !== '',
  );
}

/**
 * What `DefaultAzureCredential` (shared/azure/credentials.ts) would sign in with before the managed identity: a
 * service principal's secret or certificate, or a user's password, from the environment. In Azure the app is its
 * managed identity only; a secret there is a development secret.
 */
const SECRET_CREDENTIAL_VARIABLES = [
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PATH',
  'AZURE_CLIENT_CERTIFICATE_PASSWORD',
  'AZURE_USERNAME',
  'AZURE_PASSWORD',
  // Workload identity federation (tried before the managed identity), and the chain's own selector, which can pick
  // the developer credentials or the environment's secret alone.
  'AZURE_FEDERATED_TOKEN_FILE',
  'AZURE_TOKEN_CREDENTIALS',
];

/** Refuses to start in Azure with any local-only setting, naming them. */
export function assertNoLocalSettingsInAzure(env: Env): void {
  const found = localSettingsInAzure(env);
  if (found.length)
    throw new Error(
      `Refusing to start: ${found.join(', ')} ${found.length === 1 ? 'is a setting' : 'are settings'} of the local stack only (development secrets, keys, files); remove ${found.length === 1 ? 'it' : 'them'} from the function app's settings and use managed identity.`,
    );
}

/**
 * The composition root (docs/architecture.md): builds every adapter once per process from the app settings and hands the use
 * cases their ports. Each adapter module (and so its SDK) is imported only when first asked for, so the allocation
 * webhook's cold start does not pay for SDKs it does not use on its hot path.
 */
import type { DecisionCountRepository, DenyListFeed } from './allocation';
import { AllocationRuntime } from './allocation/runtime';
import { allocationSources, POLICY_DOCUMENT_ID } from './allocation/sources';
import { withAuditTrail } from './audit-trail';
import { parseLocalSecrets } from './auth/caller';
import { MANUFACTURERS_DOCUMENT_ID } from './auth/manufacturers';
import type { BlobAuth } from './azure/blobs';
import type { IotAuth } from './azure/iot-clients';
import { OtelMetrics } from './azure/metrics';
import { IOTHUB_TOKEN_SCOPE } from './azure/scopes';
import type { CertificateRepository } from './certificates';
import type { RevokedAuditDeps } from './certificates/audits/revoked';
import { CA_DOCUMENT_ID, type CaCertificate, caCertificatesSource } from './certificates/ca-certificates';
import { deviceCertificateRecorder } from './certificates/device-certificates';
import type { DeviceRegistryPort } from './certificates/device-registry';
import type { SweepDeps } from './certificates/expiry-sweep';
import type { ReconcileDeps } from './certificates/inventory';
import type { IssuedSweepDeps } from './certificates/issued-certificates';
import type { IssuedViewDeps } from './certificates/issued-view';
import { parseHorizons } from './certificates/rules/horizons';
import { parseRenewalPercent } from './certificates/rules/renewal';
import { storedConfigDocument } from './config-documents';
import { CONTAINERS } from './containers';
import type { FindingRepository } from './findings';
import type { GroupDeps } from './groups';
import type { ImportJobRepository } from './imports';
import { importConfigSource } from './imports/config';
import type { WorkerDeps } from './imports/enroll-chunk';
import type { DenyListRepository, IncidentDeps } from './incidents';
import { jsonFileDocument } from './local/json-file';
import type {
  BlobsPort,
  ConfigDocument,
  DocumentStore,
  EnrollmentsPort,
  EventsPort,
  HubDirectory,
  LazyServices,
  MetricsPort,
  QueuePort,
  SecretsPort,
  Services,
  StagedFilesPort,
  WebhookKeysPort,
} from './ports';
import type { SettingKey } from './settings';
import {
  assertNoLocalSettingsInAzure,
  type Env,
  listSetting,
  numberSetting,
  requireSetting,
  setting,
} from './settings';

const PARTITION_KEYS: Record<string, string> = Object.fromEntries(
  Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]),
);

async function credential(env: Env) {
  return (await import('./azure/credentials')).azureCredential(env);
}

async function enrollments(env: Env): Promise<EnrollmentsPort> {
  const [{ dpsAuth, dpsClient, DpsEnrollments }, { iotTransport }, cred, { iotDeadlines }] = await Promise.all([
    import('./azure/dps'),
    import('./azure/transport'),
    import('./azure/credentials'),
    import('./azure/iot-deadlines'),
  ]);
  const auth = dpsAuth(requireSetting(env, 'dpsHostName'), setting(env, 'dpsConnectionString'), () =>
    cred.azureCredential(env),
  );
  return new DpsEnrollments(dpsClient(auth, iotTransport(env), iotDeadlines(env)));
}

/** DPS's documented quota (operations a minute), where the pace starts when nothing else is configured. */
const DPS_DOCUMENTED_PER_MINUTE = 1000;

/**
 * Every DPS call of the process goes through one pacer, and every process shares its pace through one document per
 * DPS instance: the quota is the instance's, whichever worker spends it (shared/pacing).
 */
async function pacedDps(env: Env, dps: EnrollmentsPort, store: () => Promise<DocumentStore>): Promise<EnrollmentsPort> {
  const [{ Pacer, pacedEnrollments }, { CosmosPaceRepository }] = await Promise.all([
    import('./pacing'),
    import('./pacing/store/cosmos-paces'),
  ]);
  const pacer = new Pacer({
    paces: once(async () => new CosmosPaceRepository(await store())),
    key: `pace.dps.${requireSetting(env, 'dpsHostName').toLowerCase()}`,
    settings: {
      configuredPerMinute: numberSetting(env, 'dpsOperationsPerMinute', (n) => n > 0) ?? DPS_DOCUMENTED_PER_MINUTE,
    },
  });
  return pacedEnrollments(dps, pacer);
}

/** The DPS adapter itself, unpaced: for a test that paces it on its own clock. */
export { enrollments as dpsEnrollments };

async function hubs(env: Env): Promise<HubDirectory> {
  const [{ IotHubDirectory }, { iotTransport }, { iotDeadlines }] = await Promise.all([
    import('./azure/hub'),
    import('./azure/transport'),
    import('./azure/iot-deadlines'),
  ]);
  const byHost = new Map(
    listSetting(env, 'hubConnectionStrings').map((cs) => [/HostName=([^;]+)/i.exec(cs)?.[1]?.toLowerCase(), cs]),
  );
  const entries: Array<{ hostName: string; auth: IotAuth }> = [];
  for (const hostName of listSetting(env, 'hubHostNames')) {
    const connectionString = byHost.get(hostName.toLowerCase());
    entries.push({
      hostName,
      auth: connectionString
        ? { connectionString }
        : { hostName, credential: await credential(env), scope: IOTHUB_TOKEN_SCOPE },
    });
  }
  return new IotHubDirectory(entries, iotTransport(env), iotDeadlines(env));
}

async function store(env: Env): Promise<DocumentStore> {
  const connectionString = setting(env, 'cosmosConnection');
  const endpoint = setting(env, 'cosmosEndpoint');
  if (!connectionString && !endpoint)
    throw new Error(
      'Set COSMOS_CONNECTION__accountEndpoint (managed identity) or COSMOS_CONNECTION (connection string).',
    );
  const [{ cosmosClient, CosmosStore }, { localCa }] = await Promise.all([
    import('./azure/cosmos'),
    import('./azure/transport'),
  ]);
  const client = connectionString
    ? cosmosClient({ connectionString, ca: localCa(env) })
    : cosmosClient({ endpoint: endpoint as string, credential: await credential(env) });
  return new CosmosStore(client, setting(env, 'cosmosDatabase') ?? 'dps-lifecycle', PARTITION_KEYS);
}

async function events(env: Env): Promise<EventsPort> {
  const logPath = setting(env, 'eventLogPath');
  if (logPath) return new (await import('./local/event-log')).NdjsonEventLog(logPath);
  const { EventHubEvents } = await import('./azure/event-hubs');
  const eventHubName = requireSetting(env, 'eventHubName');
  const connectionString = setting(env, 'eventHubConnection');
  return connectionString
    ? new EventHubEvents({ connectionString, eventHubName })
    : new EventHubEvents({
        namespace: requireSetting(env, 'eventHubNamespace'),
        eventHubName,
        credential: await credential(env),
      });
}

async function queues(env: Env): Promise<QueuePort> {
  const { queueService, StorageQueues } = await import('./azure/queues');
  const connectionString = setting(env, 'storageConnection');
  return new StorageQueues(
    connectionString
      ? queueService({ connectionString })
      : queueService({ serviceUri: requireSetting(env, 'storageQueueServiceUri'), credential: await credential(env) }),
  );
}

/** Blob storage by its connection string (Azurite locally) or by the app's identity (Azure). */
async function blobAuth(env: Env): Promise<BlobAuth> {
  const connectionString = setting(env, 'storageConnection');
  return connectionString
    ? { connectionString }
    : { serviceUri: requireSetting(env, 'storageBlobServiceUri'), credential: await credential(env) };
}

async function blobs(env: Env): Promise<BlobsPort> {
  const { StorageBlobs } = await import('./azure/blobs');
  return new StorageBlobs(await blobAuth(env));
}

async function stagedFiles(env: Env): Promise<StagedFilesPort> {
  const { StorageStagedFiles } = await import('./azure/staged-files');
  return new StorageStagedFiles(await blobAuth(env));
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((err: unknown) => {
      made = undefined; // a failed build is tried again next time
      throw err;
    });
    return made;
  };
}

/** The repositories every capability reads and writes through, each built on first use over the document store. */
export interface Repositories {
  certificates: () => Promise<CertificateRepository>;
  denyList: () => Promise<DenyListRepository & DenyListFeed>;
  findings: () => Promise<FindingRepository>;
  importJobs: () => Promise<ImportJobRepository>;
  decisionCounts: () => Promise<DecisionCountRepository>;
}

/** The adapters and the repositories: what the triggers hand the use cases. */
export type AppServices = LazyServices & Repositories;

/** The repositories over a document store (Cosmos in Azure and locally; the memory store in unit tests and benches). */
export function repositories(lazy: Pick<LazyServices, 'store'>): Repositories {
  return {
    certificates: once(
      async () =>
        new (await import('./certificates/store/cosmos-certificates')).CosmosCertificateRepository(await lazy.store()),
    ),
    denyList: denyListRepository(lazy),
    findings: once(
      async () => new (await import('./findings/store/cosmos-findings')).CosmosFindingRepository(await lazy.store()),
    ),
    importJobs: once(
      async () => new (await import('./imports/store/cosmos-jobs')).CosmosImportJobRepository(await lazy.store()),
    ),
    decisionCounts: once(
      async () =>
        new (await import('./allocation/store/cosmos-decision-counts')).CosmosDecisionCountRepository(
          await lazy.store(),
        ),
    ),
  };
}

export function lazyServices(env: Env): AppServices {
  const blobService = once(() => blobs(env));
  // Where blob storage is configured (always in Azure), every audit record also goes to the immutable trail.
  const withTrail = setting(env, 'storageConnection') ?? setting(env, 'storageBlobServiceUri');
  const documents = once(async () => (withTrail ? withAuditTrail(await store(env), blobService) : store(env)));
  const lazy: LazyServices = {
    enrollments: once(async () => pacedDps(env, await enrollments(env), documents)),
    hubs: once(() => hubs(env)),
    store: documents,
    events: once(() => events(env)),
    queues: once(() => queues(env)),
    blobs: blobService,
    stagedFiles: once(() => stagedFiles(env)),
  };
  return { ...lazy, ...repositories(lazy) };
}

/** Every service built at once: for tools and tests. */
export async function buildServices(env: Env): Promise<Services> {
  const lazy = lazyServices(env);
  const [e, h, s, ev, q, b] = await Promise.all([
    lazy.enrollments(),
    lazy.hubs(),
    lazy.store(),
    lazy.events(),
    lazy.queues(),
    lazy.blobs(),
  ]);
  return { enrollments: e, hubs: h, store: s, events: ev, queues: q, blobs: b };
}

/**
 * Azure Device Registry over ARM. Locally the loopback agent dials the simulator's ADR, which takes any bearer token,
 * so a fixed token stands in for Entra ID there; in Azure, the app's managed identity.
 */
export async function deviceRegistryFor(env: Env): Promise<DeviceRegistryPort> {
  const [{ ArmDeviceRegistry }, { iotTransport }] = await Promise.all([
    import('./azure/device-registry'),
    import('./azure/transport'),
  ]);
  const transport = iotTransport(env);
  const token = transport
    ? { getToken: async () => ({ token: 'local-stack', expiresOnTimestamp: Date.now() + 3_600_000 }) }
    : await credential(env);
  return new ArmDeviceRegistry({
    resourceGroupId: requireSetting(env, 'adrResourceGroupId'),
    credential: token,
    transport,
  });
}

let processDeviceRegistry: Promise<DeviceRegistryPort> | undefined;

/** The process's ADR adapter, built on first use. */
export function deviceRegistry(): Promise<DeviceRegistryPort> {
  processDeviceRegistry ??= deviceRegistryFor(process.env).catch((err: unknown) => {
    processDeviceRegistry = undefined;
    throw err;
  });
  return processDeviceRegistry;
}

let processMetrics: MetricsPort | undefined;

/** The process's metrics (OpenTelemetry; exported to Azure Monitor once `startAzureMonitor` has run). */
export function appMetrics(): MetricsPort {
  processMetrics ??= new OtelMetrics();
  return processMetrics;
}

/** Exports the metrics to Azure Monitor where Application Insights is configured; loaded only then. */
export async function startMonitoring(env: Env): Promise<boolean> {
  if (!env.APPLICATIONINSIGHTS_CONNECTION_STRING) return false;
  return (await import('./azure/monitor')).startAzureMonitor(env);
}

let processServices: AppServices | undefined;

/** The process-wide services of the function app. */
export function services(): AppServices {
  processServices ??= lazyServices(process.env);
  return processServices;
}

export type { LazyServices, Services };

/**
 * The repositories of breach containment, on the document store; like every adapter, each module is loaded when
 * first asked for, so the webhook's cold start does not pay for containment.
 */
export function incidentRepositories(lazy: Pick<AppServices, 'store' | 'denyList'>) {
  return {
    incidents: once(
      async () =>
        new (await import('./incidents/store/incident-repository')).CosmosIncidentRepository(await lazy.store()),
    ),
    holds: once(
      async () => new (await import('./incidents/store/hold-repository')).CosmosHoldRepository(await lazy.store()),
    ),
    denyList: lazy.denyList,
  };
}

/** The deny list: written by containment, followed by every webhook instance through its change log. */
export function denyListRepository(
  lazy: Pick<LazyServices, 'store'>,
): () => Promise<DenyListRepository & DenyListFeed> {
  return once(
    async () =>
      new (await import('./incidents/store/deny-list-repository')).CosmosDenyListRepository(await lazy.store()),
  );
}

/**
 * A configuration document: the file a setting names (local development), else the document `documentId` of the
 * `policies` container. The choice is made here, once, so the use cases read a ConfigDocument and never the disk.
 */
export function configDocument(
  env: Env,
  fileSetting: SettingKey,
  documentId: string,
  lazy: Pick<LazyServices, 'store'>,
): ConfigDocument {
  const file = setting(env, fileSetting);
  return file ? jsonFileDocument(file) : storedConfigDocument(lazy.store, documentId);
}

/** Where the webhook's keys and URL live: a function app in Azure, or the local stack. */
export type WebhookKeyTarget =
  | { kind: 'azure'; subscriptionId: string; resourceGroup: string; appName: string; vaultName: string; env: Env }
  | { kind: 'local'; hostUrl: string; masterKey: string; secretsFile: string };

/**
 * What `dps-lifecycle webhook rotate-key` works with. In Azure: the function's keys through Resource Manager and the
 * URL in Key Vault, with the operator's identity. Locally: the local host's key API and a secrets file.
 */
export async function webhookKeyAdapters(
  target: WebhookKeyTarget,
): Promise<{ keys: WebhookKeysPort; secrets: SecretsPort }> {
  if (target.kind === 'local') {
    const { HostFunctionKeys, FileSecrets } = await import('./local/host-function-keys');
    return {
      keys: new HostFunctionKeys(target.hostUrl, target.masterKey, 'allocate'),
      secrets: new FileSecrets(target.secretsFile),
    };
  }
  const [{ ArmFunctionKeys }, { KeyVaultSecrets }, cred] = await Promise.all([
    import('./azure/function-keys'),
    import('./azure/key-vault'),
    credential(target.env),
  ]);
  const app = { subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.appName };
  return {
    keys: new ArmFunctionKeys({ ...app, functionName: 'allocate' }, cred),
    secrets: new KeyVaultSecrets(target.vaultName, cred),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// What each trigger hands its use case: the services above, the process-wide hooks, and the app settings, read
// here and nowhere else. Triggers parse, authorise, call one use case and map its result.
// ---------------------------------------------------------------------------------------------------------------

const appEnv = (): Env => process.env;
const wholeNumber = (n: number) => Number.isInteger(n) && n >= 0;
const positive = (n: number) => n > 0;

/** The expiry horizons (days) the sweep raises findings at, and the API and the console show. */
export function expiryHorizons(): number[] {
  return parseHorizons(setting(appEnv(), 'expiryHorizonsDays'));
}

const DEFAULT_MAX_FILE_BYTES = 10 * 1024 ** 3;
const DEFAULT_MAX_ROWS = 50_000_000;

/** How large a maker's file may be, in bytes and in rows. */
export function importLimits(): { maxFileBytes: number; maxRows: number } {
  return {
    maxFileBytes: numberSetting(appEnv(), 'importMaxFileBytes', positive) ?? DEFAULT_MAX_FILE_BYTES,
    maxRows: numberSetting(appEnv(), 'importMaxRows', positive) ?? DEFAULT_MAX_ROWS,
  };
}

/** DPS's verified CA certificates, from their configuration document. */
function caCertificates(): () => Promise<CaCertificate[]> {
  return caCertificatesSource(configDocument(appEnv(), 'dpsCaCertificatesFile', CA_DOCUMENT_ID, services()));
}

/** The hourly expiry sweep and the revocation audit after it. */
export function sweepDeps(): SweepDeps & RevokedAuditDeps {
  return { ...services(), retry: { attempts: 20 } };
}

/** The sweep of the certificates DPS issued (ADR), as the devices report them, and its renewal point. */
export function issuedSweepDeps(): IssuedSweepDeps {
  const s = services();
  return {
    ...s,
    issued: async () =>
      new (await import('./certificates/store/cosmos-issued-certificates')).CosmosIssuedCertificateRepository(
        await s.store(),
      ),
    retry: { attempts: 20 },
  };
}

export const renewalPercent = () => parseRenewalPercent(setting(appEnv(), 'certRenewalPercent'));

/** The console's view of issued certificates: the sweep's records, and ADR to name each one's policy. */
export function issuedViewDeps(): IssuedViewDeps {
  return { issued: issuedSweepDeps().issued, ...adrDeps(appEnv()) };
}

/** The reconciliation of the inventory against DPS, with the audit rules of the settings. */
export function reconcileDeps(): ReconcileDeps {
  const maxAgeDays = numberSetting(appEnv(), 'certMaxAgeDays', positive);
  return {
    ...services(),
    retry: { attempts: 20 },
    caCertificates: caCertificates(),
    audit: maxAgeDays ? { maxAgeDays } : {},
  };
}

/** The chunk worker: enrollments point at our webhook when it is configured. */
export function importWorkerDeps(log: (line: string) => void): WorkerDeps {
  const webhookUrl = setting(appEnv(), 'allocationWebhookUrl');
  return {
    ...services(),
    allocation: webhookUrl ? { webhookUrl, apiVersion: '2021-10-01' } : undefined,
    metrics: appMetrics(),
    log,
  };
}

/**
 * Containment, with the settings that bound what runs without approval. `hooks` are the process's own: the
 * allocation runtime of this instance learns new deny entries at once.
 */
export function incidentDeps(hooks: Pick<IncidentDeps, 'onDeny' | 'onRelease' | 'log'>): IncidentDeps {
  const s = services();
  const env = appEnv();
  return {
    ...s,
    ...incidentRepositories(s),
    importJobThreshold: numberSetting(env, 'hubImportJobThreshold', wholeNumber) || undefined,
    autoApproveMaxDevices: numberSetting(env, 'incidentAutoApproveMaxDevices', wholeNumber),
    fourEyes: setting(env, 'incidentFourEyes')?.toLowerCase() !== 'false',
    alertImmediateDenyMax: numberSetting(env, 'incidentAlertImmediateDenyMax', wholeNumber),
    caCertificates: caCertificates(),
    metrics: appMetrics(),
    ...adrDeps(env),
    ...hooks,
  };
}

/** Enrollment groups an operator creates: DPS, the audit, our webhook's URL, and ADR to check a policy named. */
export function groupDeps(): GroupDeps {
  const env = appEnv();
  const s = services();
  return { ...s, webhookUrl: setting(env, 'allocationWebhookUrl'), ...adrDeps(env) };
}

/** ADR for the use cases that act there, when a namespace is administered (ADR_NAMESPACE and its resource group set). */
export function adrDeps(env: Env): { deviceRegistry?: () => Promise<DeviceRegistryPort>; adrNamespace?: string } {
  const adrNamespace = setting(env, 'adrNamespace');
  if (!adrNamespace || !setting(env, 'adrResourceGroupId')) return {};
  return { deviceRegistry, adrNamespace };
}

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

function onceSync<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

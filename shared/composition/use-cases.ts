/**
 * What each trigger hands its use case: the services, the process-wide hooks, and the app settings, read here and
 * nowhere else. Triggers parse, authorise, call one use case and map its result.
 */
import type { RevokedAuditDeps } from '../certificates/audits/revoked';
import { CA_DOCUMENT_ID, type CaCertificate, caCertificatesSource } from '../certificates/ca-certificates';
import type { DeviceRegistryPort } from '../certificates/device-registry';
import type { SweepDeps } from '../certificates/expiry-sweep';
import type { ReconcileDeps } from '../certificates/inventory';
import type { IssuedSweepDeps } from '../certificates/issued-certificates';
import type { IssuedViewDeps } from '../certificates/issued-view';
import { parseHorizons } from '../certificates/rules/horizons';
import { parseRenewalPercent } from '../certificates/rules/renewal';
import type { GroupDeps } from '../groups';
import type { WorkerDeps } from '../imports/enroll-chunk';
import type { IncidentDeps } from '../incidents';
import { type Env, numberSetting, setting } from '../settings';
import { appMetrics, configDocument, deviceRegistry, incidentRepositories, services } from './services';

export const appEnv = (): Env => process.env;
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
      new (await import('../certificates/store/cosmos-issued-certificates')).CosmosIssuedCertificateRepository(
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

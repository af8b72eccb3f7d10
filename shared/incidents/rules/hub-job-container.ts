/**
 * The blob container of one IoT Hub import job: `jobs-<hub name>-<hash of incident and hub>`. Each job gets its own
 * container because the hub writes its `importErrors.log` under a fixed name, so a later job must never overwrite an
 * earlier one's before a resumed worker reads it. The hub's name leads, because each hub's identity may touch only
 * the containers that start with `jobs-<its name>-` (an RBAC condition in infra/modules/rbac.bicep).
 */
import { createHash } from 'node:crypto';

export const HUB_JOB_CONTAINER_PREFIX = 'jobs-';
/** Blob container names: 3–63 lower-case letters, digits and single hyphens. */
const MAX_CONTAINER_NAME = 63;
const MAX_HASH = 32;

/** The hub's resource name: the first label of its host name (`iot-abc-1.azure-devices.net` → `iot-abc-1`). */
export const hubResourceName = (hubHostName: string) => hubHostName.split('.')[0].toLowerCase();

export function hubJobContainer(incidentId: string, hubHostName: string): string {
  const prefix = `${HUB_JOB_CONTAINER_PREFIX}${hubResourceName(hubHostName)}-`;
  const hashLength = Math.min(MAX_HASH, MAX_CONTAINER_NAME - prefix.length);
  const hash = createHash('sha256').update(`${incidentId}|${hubHostName.toLowerCase()}`).digest('hex');
  return `${prefix}${hash.slice(0, hashLength)}`;
}

/** The same container URL: scheme, host, port and path equal; the query (a SAS, or none) is not compared. */
export function sameContainerUrl(a: string | undefined, b: string): boolean {
  if (!a) return false;
  try {
    const [x, y] = [new URL(a), new URL(b)];
    const path = (u: URL) => u.pathname.replace(/\/+$/, '');
    return x.protocol === y.protocol && x.host === y.host && path(x) === path(y);
  } catch {
    return false;
  }
}

/**
 * Whether a job on the hub is the one this step started (its start's answer lost): an import job reading exactly the
 * container URL the step gives the hub, taken after the step began. The container's name alone is public (a hash of
 * the incident and the hub): anyone who may run jobs on the hub could start one reading a container of that name in
 * another account, or ours before the step wrote its file, and a job adopted on that would be counted as having
 * deleted every device (review finding 3). A job of ours missed by this (clocks apart) costs a second job, which finds
 * the devices gone.
 */
export function isStepsJob(
  job: { type?: string; inputBlobContainerUri?: string; startTimeUtc?: string },
  containerUrl: string,
  stepStartedAt: string | undefined,
): boolean {
  if (job.type?.toLowerCase() !== 'import' || !sameContainerUrl(job.inputBlobContainerUri, containerUrl)) return false;
  const taken = Date.parse(job.startTimeUtc ?? '');
  const began = Date.parse(stepStartedAt ?? '');
  return Number.isFinite(taken) && Number.isFinite(began) && taken >= began;
}

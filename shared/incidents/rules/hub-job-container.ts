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

/** Whether a job reads from this container: its input URL's last path segment (a SAS query or none, either way). */
export function readsFrom(inputBlobContainerUri: string | undefined, container: string): boolean {
  if (!inputBlobContainerUri) return false;
  try {
    const segments = new URL(inputBlobContainerUri).pathname.split('/').filter(Boolean);
    return segments.at(-1)?.toLowerCase() === container.toLowerCase();
  } catch {
    return false;
  }
}

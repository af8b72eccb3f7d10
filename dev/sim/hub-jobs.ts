/**
 * IoT Hub import jobs (`POST /jobs/create`, `GET /jobs/{id}`, `GET /jobs`), as `azure-iothub`'s `importDevicesFromBlob` uses
 * them: the hub reads `devices.txt` (JSON lines with an `importMode`) from the input blob container, applies it, and
 * writes `importErrors.log` to the output container. One import or export job at a time per hub; a second is
 * refused with 403 JobQuotaExceeded, as IoT Hub does. The containers are reached by their SAS URLs (Azurite locally); identity-based storage access
 * is not simulated. Jobs do not spend the registry throttle, as in IoT Hub.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { deleteDevice } from './iothub';
import type { HubData } from './state';
import { HttpError, ifMatchAllows, readJson, sendJson } from './wire';

export interface HubJob {
  jobId: string;
  type: 'import';
  status: 'enqueued' | 'running' | 'completed' | 'failed';
  startTimeUtc: string;
  endTimeUtc?: string;
  progress: number;
  inputBlobContainerUri: string;
  outputBlobContainerUri: string;
  failureReason?: string;
}

export interface HubJobsContext {
  data: HubData;
  jobs: Map<string, HubJob>;
  changed: () => void;
  /** The simulator's clock (a test's manual clock): a job's start time is on it, as the backend compares them. */
  now?: () => number;
}

/** `https://acct/container?sas` + `devices.txt` → `https://acct/container/devices.txt?sas`. */
const blobUrl = (containerUri: string, name: string) => {
  const url = new URL(containerUri);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${name}`;
  return url.toString();
};

async function run(ctx: HubJobsContext, job: HubJob): Promise<void> {
  job.status = 'running';
  try {
    const input = await fetch(blobUrl(job.inputBlobContainerUri, 'devices.txt'));
    if (!input.ok) throw new Error(`cannot read devices.txt from the input container: ${input.status}`);
    const lines = (await input.text()).split('\n').filter((l) => l.trim());
    const errors: string[] = [];
    lines.forEach((line, i) => {
      const item = JSON.parse(line) as { id?: string; importMode?: string; eTag?: string };
      const id = item.id ?? '';
      const existing = ctx.data.devices.get(id.toLowerCase());
      const mode = (item.importMode ?? '').toLowerCase();
      if (mode !== 'delete' && mode !== 'deleteifmatchetag')
        errors.push(
          JSON.stringify({
            key: id,
            errorCode: 'ImportModeNotSimulated',
            errorStatus: `importMode ${item.importMode} is not simulated`,
          }),
        );
      else if (!existing)
        errors.push(JSON.stringify({ key: id, errorCode: 'DeviceNotFound', errorStatus: `Device ${id} not found.` }));
      else if (mode === 'deleteifmatchetag' && !ifMatchAllows(item.eTag ?? '"none"', existing.etag))
        errors.push(JSON.stringify({ key: id, errorCode: 'PreconditionFailed', errorStatus: 'Etag mismatch.' }));
      else deleteDevice(ctx.data, id);
      job.progress = Math.floor(((i + 1) / lines.length) * 100);
    });
    ctx.changed();
    const output = await fetch(blobUrl(job.outputBlobContainerUri, 'importErrors.log'), {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob' },
      body: errors.join('\n'),
    });
    if (!output.ok) throw new Error(`cannot write importErrors.log to the output container: ${output.status}`);
    job.status = 'completed';
  } catch (err) {
    job.status = 'failed';
    job.failureReason = (err as Error).message;
  }
  job.endTimeUtc = new Date((ctx.now ?? Date.now)()).toISOString();
}

export async function handleHubJobs(
  ctx: HubJobsContext,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
): Promise<boolean> {
  const [collection, id] = segments;
  if (collection?.toLowerCase() !== 'jobs') return false;
  const method = req.method ?? 'GET';
  // Jobs_GetImportExportJobs: every job the hub knows, so a client that lost the answer to its start can find it.
  if (id === undefined && method === 'GET') return (sendJson(res, 200, [...ctx.jobs.values()]), true);
  if (id?.toLowerCase() === 'create' && method === 'POST') {
    const body = (await readJson(req)) as (Partial<HubJob> & { storageAuthenticationType?: string }) | undefined;
    if (body?.type !== 'import' || !body.inputBlobContainerUri || !body.outputBlobContainerUri)
      throw new HttpError(
        400,
        'ArgumentInvalid',
        'An import job needs type import, inputBlobContainerUri and outputBlobContainerUri.',
      );
    if (body.storageAuthenticationType?.toLowerCase() === 'identitybased')
      throw new HttpError(400, 'ArgumentInvalid', 'The simulator reaches blob containers by SAS URL only.');
    if ([...ctx.jobs.values()].some((j) => j.status === 'enqueued' || j.status === 'running')) {
      // As IoT Hub answers it: 403 with its error code, not a throttle (no Retry-After).
      throw new HttpError(403, 'JobQuotaExceeded', 'Only one import or export job may run at a time on this hub.');
    }
    const job: HubJob = {
      jobId: randomUUID(),
      type: 'import',
      status: 'enqueued',
      startTimeUtc: new Date((ctx.now ?? Date.now)()).toISOString(),
      progress: 0,
      inputBlobContainerUri: body.inputBlobContainerUri,
      outputBlobContainerUri: body.outputBlobContainerUri,
    };
    ctx.jobs.set(job.jobId, job);
    setTimeout(() => void run(ctx, job), 50);
    return (sendJson(res, 200, job), true);
  }
  if (id && method === 'GET') {
    const job = ctx.jobs.get(id);
    if (!job) throw new HttpError(404, 'JobNotFound', `Job ${id} not found.`);
    return (sendJson(res, 200, job), true);
  }
  return false;
}

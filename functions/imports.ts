/**
 * Bulk enrollment import for manufacturers (function key + the manufacturer's identity):
 * `POST /api/manufacturers/{manufacturerId}/imports` streams a CSV, NDJSON or JSON-array file of EKs and answers
 * 202 with the job; `GET …/imports/{jobId}` shows its counts, progress, rate and ETA; `GET …/imports/{jobId}/rows`
 * lists rows by status. The `import-chunks` queue worker enrolls the rows in DPS.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { services } from '../shared/composition';
import { QUEUES } from '../shared/containers';
import { fileVerifier } from '../shared/enrollment/file-signature';
import { formatOf } from '../shared/enrollment/row-sources';
import { setting } from '../shared/settings';
import { startImport } from '../shared/use-cases/import-intake';
import { jobView, listRows, readJob, ROW_STATUSES, type RowStatus } from '../shared/use-cases/import-jobs';
import { type ChunkMessage, enrollChunk } from '../shared/use-cases/import-worker';
import { authorizeManufacturer, importConfig } from './edge/caller';
import { accepted, badRequest, notFound, ok } from './edge/http-response';
import { http, storageQueue } from './edge/registry';

const location = (manufacturerId: string, jobId: string) =>
  `/api/manufacturers/${encodeURIComponent(manufacturerId)}/imports/${encodeURIComponent(jobId)}`;

export async function postImport(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeManufacturer(request, request.params.manufacturerId);
  if (!auth.ok) return auth.response;
  const { config, rulesFor } = await importConfig();
  const manufacturer = config.manufacturers.find((m) => m.id === request.params.manufacturerId);
  if (!manufacturer) return notFound(`no manufacturer ${request.params.manufacturerId}`);
  const format = formatOf(request.query.get('format') ?? request.headers.get('content-type') ?? undefined);
  if (!format)
    return badRequest(
      'Content-Type must be text/csv, application/x-ndjson or application/json (or ?format=csv|ndjson|json)',
    );
  if (!request.body) return badRequest('the body is empty');
  const signatureHeader = request.headers.get('x-content-signature') ?? undefined;
  if (manufacturer.signingCertificates?.length && !signatureHeader)
    return badRequest(
      `manufacturer ${manufacturer.id} signs its files: X-Content-Signature (base64, SHA-256) is required`,
    );
  const result = await startImport(services(), {
    signature: manufacturer.signingCertificates?.length
      ? fileVerifier(manufacturer.signingCertificates, signatureHeader as string)
      : undefined,
    rules: rulesFor(manufacturer),
    createdBy: auth.caller.principal,
    format,
    body: request.body as AsyncIterable<Uint8Array>,
    idempotencyKey: request.headers.get('idempotency-key') ?? undefined,
    fileName: request.query.get('fileName') ?? undefined,
  });
  const view = jobView(result.job);
  const where = location(manufacturer.id, result.job.jobId);
  return result.kind === 'existing' ? ok(view, { Location: where }) : accepted(view, where);
}

async function ownJob(request: HttpRequest) {
  const job = await readJob(await services().store(), request.params.jobId);
  return job && job.manufacturerId === request.params.manufacturerId ? job : undefined;
}

export async function getImport(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeManufacturer(request, request.params.manufacturerId);
  if (!auth.ok) return auth.response;
  const job = await ownJob(request);
  return job
    ? ok(jobView(job))
    : notFound(`no import ${request.params.jobId} for manufacturer ${request.params.manufacturerId}`);
}

export async function getImportRows(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeManufacturer(request, request.params.manufacturerId);
  if (!auth.ok) return auth.response;
  const status = request.query.get('status') ?? undefined;
  if (status && !ROW_STATUSES.includes(status as RowStatus))
    return badRequest(`status must be one of ${ROW_STATUSES.join(', ')}`);
  const job = await ownJob(request);
  if (!job) return notFound(`no import ${request.params.jobId} for manufacturer ${request.params.manufacturerId}`);
  const page = await listRows(
    await services().store(),
    job.jobId,
    status as RowStatus | undefined,
    request.query.get('continuationToken') ?? undefined,
  );
  return ok(page);
}

export async function importWorker(message: unknown, context: InvocationContext): Promise<void> {
  const m = message as Partial<ChunkMessage>;
  if (typeof m?.jobId !== 'string' || typeof m.chunk !== 'number')
    return context.error(`import-chunks message is not { jobId, chunk }: ${JSON.stringify(message)}`);
  const webhookUrl = setting(process.env, 'allocationWebhookUrl');
  const chunk = await enrollChunk(
    {
      ...services(),
      allocation: webhookUrl ? { webhookUrl, apiVersion: '2021-10-01' } : undefined,
      log: (l) => context.log(l),
    },
    m as ChunkMessage,
  );
  context.log(`import ${m.jobId} chunk ${m.chunk}: ${chunk?.state ?? 'not found'}`);
}

http('imports-post', {
  route: 'manufacturers/{manufacturerId}/imports',
  methods: ['POST'],
  authLevel: 'function',
  handler: postImport,
});
http('imports-get', {
  route: 'manufacturers/{manufacturerId}/imports/{jobId}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getImport,
});
http('imports-rows', {
  route: 'manufacturers/{manufacturerId}/imports/{jobId}/rows',
  methods: ['GET'],
  authLevel: 'function',
  handler: getImportRows,
});
storageQueue('import-worker', {
  queueName: QUEUES.importChunks,
  connection: 'AzureWebJobsStorage',
  handler: importWorker,
});

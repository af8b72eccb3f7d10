/**
 * Bulk enrollment import for manufacturers (function key + the manufacturer's identity):
 * `POST /api/manufacturers/{manufacturerId}/imports` streams a CSV, NDJSON or JSON-array file of EKs into Blob storage
 * and answers 202 with the job; bigger files: `POST …/imports/uploads` gives an upload URL, then `POST
 * …/imports/{jobId}/start`. `GET …/imports/{jobId}` shows its counts, progress, rate and ETA; `GET
 * …/imports/{jobId}/rows` lists rows by status. The `import-validation` queue validates the staged file in shares; the
 * `import-chunks` queue worker enrolls the rows in DPS.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { readCertificatePolicy } from '../shared/certificate-policy';
import { importLimits, importWorkerDeps, services } from '../shared/composition';
import { QUEUES } from '../shared/containers';
import { PayloadTooLargeError, ValidationError } from '../shared/errors';
import { type ChunkMessage, enrollChunk } from '../shared/imports/enroll-chunk';
import { jobView, listRows, ROW_STATUSES, type RowStatus } from '../shared/imports/job-store';
import { chunkPoisoned, validationPoisoned } from '../shared/imports/poison';
import { formatOf, type ImportFormat } from '../shared/imports/rules/row-sources';
import { openUploadSlot, stageUpload, type StagingResult, startUploaded } from '../shared/imports/stage';
import { type ValidateMessage, validateStaged } from '../shared/imports/validate';
import { authorizeManufacturer, importConfig } from './edge/caller';
import { markOnLastDelivery } from './edge/deliveries';
import { accepted, badRequest, conflict, notFound, ok } from './edge/http-response';
import { http, storageQueue } from './edge/registry';

const FORMAT_HELP =
  'Content-Type must be text/csv, application/x-ndjson or application/json (or ?format=csv|ndjson|json)';

const location = (manufacturerId: string, jobId: string) =>
  `/api/manufacturers/${encodeURIComponent(manufacturerId)}/imports/${encodeURIComponent(jobId)}`;

/** Files up to this size may stream through the request; larger ones go to an upload URL (the front end's limit). */
const DIRECT_UPLOAD_MAX_BYTES = 100 * 1024 * 1024;
const maxFileBytes = () => importLimits().maxFileBytes;
const maxRows = () => importLimits().maxRows;

/** The maker named in the route, its rules and how it signs its files; or the answer that refuses the call. */
async function maker(request: HttpRequest) {
  const auth = await authorizeManufacturer(request, request.params.manufacturerId);
  if (!auth.ok) return auth;
  const { config } = await importConfig();
  const manufacturer = config.manufacturers.find((m) => m.id === request.params.manufacturerId);
  if (!manufacturer)
    return { ok: false as const, response: notFound(`no manufacturer ${request.params.manufacturerId}`) };
  const signature = request.headers.get('x-content-signature') ?? undefined;
  if (manufacturer.signingCertificates?.length && !signature)
    return {
      ok: false as const,
      response: badRequest(
        `manufacturer ${manufacturer.id} signs its files: X-Content-Signature (base64, SHA-256) is required`,
      ),
    };
  return { ok: true as const, caller: auth.caller, manufacturer, signature };
}

function newImport(request: HttpRequest, manufacturerId: string, principal: string, format: ImportFormat) {
  // `?certificatePolicy=namespace/authority/policy` (or `none`): the job's rows name it over the maker's default.
  const policy = readCertificatePolicy(request.query.get('certificatePolicy') ?? undefined);
  if (!policy.ok) throw new ValidationError(policy.reason);
  return {
    manufacturerId,
    createdBy: principal,
    format,
    idempotencyKey: request.headers.get('idempotency-key') ?? undefined,
    fileName: request.query.get('fileName') ?? undefined,
    ...(policy.given ? { certificatePolicy: policy.policy ?? ('none' as const) } : {}),
  };
}

const answer = (result: StagingResult, extra: Record<string, unknown> = {}) => {
  const where = location(result.job.manufacturerId, result.job.jobId);
  const view = { ...jobView(result.job), ...extra };
  return result.kind === 'existing' ? ok(view, { Location: where }) : accepted(view, where);
};

/**
 * `POST …/imports`: the file streams into Blob storage; 202 as soon as it is stored. Cross-site forgery: a maker
 * calls with a bearer token, which a page on another site cannot set, and the file's types (text/csv,
 * application/x-ndjson, application/json) are not ones such a page can send; the edge still refuses a simple request
 * (text/plain or no type with `?format=`), since an admin, who also acts for makers, may be signed in with a cookie.
 */
export async function postImport(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const who = await maker(request);
  if (!who.ok) return who.response;
  const format = formatOf(request.query.get('format') ?? request.headers.get('content-type') ?? undefined);
  if (!format) return badRequest(FORMAT_HELP);
  if (!request.body) return badRequest('the body is empty');
  const limit = Math.min(maxFileBytes(), DIRECT_UPLOAD_MAX_BYTES);
  const hint =
    limit < maxFileBytes() ? `; for files up to ${maxFileBytes()} bytes, POST …/imports/uploads for an upload URL` : '';
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit, hint);
  const result = await stageUpload(services(), {
    ...newImport(request, who.manufacturer.id, who.caller.principal, format),
    body: request.body as AsyncIterable<Uint8Array>,
    signature: who.signature,
    maxBytes: limit,
    hint,
  });
  return answer(result);
}

/** `POST …/imports/uploads?format=csv`: a job waiting for its file, and a URL to PUT it to (one hour, this blob only). */
export async function postUploadSlot(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const who = await maker(request);
  if (!who.ok) return who.response;
  const format = formatOf(request.query.get('format') ?? request.query.get('fileName') ?? undefined);
  if (!format) return badRequest(`${FORMAT_HELP}: give ?format= (or a ?fileName= with its extension)`);
  const result = await openUploadSlot(
    services(),
    newImport(request, who.manufacturer.id, who.caller.principal, format),
  );
  const start = `${location(result.job.manufacturerId, result.job.jobId)}/start`;
  return answer(result, {
    ...(result.uploadUrl
      ? { uploadUrl: result.uploadUrl, uploadHeaders: { 'x-ms-blob-type': 'BlockBlob' }, expiresOn: result.expiresOn }
      : {}),
    startUrl: start,
  });
}

/** `POST …/imports/{jobId}/start`: the file is at the upload URL; validation takes it from here. */
export async function postStart(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const who = await maker(request);
  if (!who.ok) return who.response;
  const job = await ownJob(request);
  if (!job) return notFound(`no import ${request.params.jobId} for manufacturer ${request.params.manufacturerId}`);
  if (job.status === 'failed') return conflict(`import ${job.jobId} has failed: ${job.reason ?? ''}`);
  return answer(await startUploaded(services(), job, { signature: who.signature, maxBytes: maxFileBytes() }));
}

/** The `import-validation` queue: one share of a staged file's validation. */
export async function importValidator(message: unknown, context: InvocationContext): Promise<void> {
  const m = message as Partial<ValidateMessage>;
  if (typeof m?.jobId !== 'string')
    return context.error(`import-validation message is not { jobId }: ${JSON.stringify(message)}`);
  const jobId = m.jobId;
  await markOnLastDelivery(
    context,
    async () => {
      const job = await (await services().importJobs()).get(jobId);
      if (!job) return context.error(`import-validation: no job ${jobId}`);
      const { config, rulesFor } = await importConfig();
      const manufacturer = config.manufacturers.find((x) => x.id === job.manufacturerId);
      if (!manufacturer)
        return context.error(`import ${job.jobId}: manufacturer ${job.manufacturerId} is not configured`);
      const outcome = await validateStaged(services(), m as ValidateMessage, {
        rules: { ...rulesFor(manufacturer, job), signingCertificates: manufacturer.signingCertificates },
        maxRows: maxRows(),
      });
      context.log(`import ${jobId} validation: ${outcome}`);
    },
    (why) => validationPoisoned(services(), jobId, why),
  );
}

async function ownJob(request: HttpRequest) {
  const job = await (await services().importJobs()).get(request.params.jobId);
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
    await services().importJobs(),
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
  const chunkMessage = m as ChunkMessage;
  await markOnLastDelivery(
    context,
    async () => {
      const chunk = await enrollChunk(
        importWorkerDeps((l) => context.log(l)),
        chunkMessage,
      );
      context.log(`import ${chunkMessage.jobId} chunk ${chunkMessage.chunk}: ${chunk?.state ?? 'not found'}`);
    },
    (why) => chunkPoisoned(services(), chunkMessage.jobId, chunkMessage.chunk, why),
  );
}

http('imports-post', {
  route: 'manufacturers/{manufacturerId}/imports',
  methods: ['POST'],
  authLevel: 'function',
  handler: postImport,
});
http('imports-uploads', {
  route: 'manufacturers/{manufacturerId}/imports/uploads',
  methods: ['POST'],
  authLevel: 'function',
  handler: postUploadSlot,
});
http('imports-start', {
  route: 'manufacturers/{manufacturerId}/imports/{jobId}/start',
  methods: ['POST'],
  authLevel: 'function',
  handler: postStart,
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
storageQueue('import-validator', {
  queueName: QUEUES.importValidation,
  connection: 'AzureWebJobsStorage',
  handler: importValidator,
});
storageQueue('import-worker', {
  queueName: QUEUES.importChunks,
  connection: 'AzureWebJobsStorage',
  handler: importWorker,
});

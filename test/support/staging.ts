/**
 * The staged-import tests' stack: Azurite and Cosmos for the staged file and its job, and the use cases driven by
 * hand with their queue messages kept in `sent` instead of being sent, so a test says which share runs when. The
 * HTTP tests add the local Functions host over the same stack.
 */
import { randomEk } from '../../dev/ek-factory';
import type { RunningHost } from '../../dev/host/host';
import { lazyServices } from '../../shared/composition';
import { listRows } from '../../shared/imports/job-store';
import type { ImportFormat } from '../../shared/imports/rules/row-sources';
import { openUploadSlot, stageUpload, startUploaded } from '../../shared/imports/stage';
import { CosmosImportJobRepository } from '../../shared/imports/store/cosmos-jobs';
import { validateStaged } from '../../shared/imports/validate';
import type { StagedFilesPort } from '../../shared/ports';
import { startAppHost } from './app-host';
import { startTestStack, type TestStack } from './stack';

export const RULES = { manufacturerId: 'acme-tpm', registrationIdPrefix: 'acme-' };
export const b64 = (b: Buffer) => b.toString('base64');

export interface Sent {
  queue: string;
  message: { jobId: string; chunk?: number };
}

export const streamOf = (text: string, piece = 4096) =>
  (async function* () {
    for (let i = 0; i < text.length; i += piece) yield Buffer.from(text.slice(i, i + piece));
  })();

export const csvOf = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${i},${b64(randomEk())}\n`).join('');

/** 12,000 NDJSON rows (2.4 checkpoints): a broken line, and a row 10,990 lines later repeating line 10's EK. */
export function bigFile(): string {
  const eks = Array.from({ length: 12_000 }, () => b64(randomEk()));
  eks[11_000] = eks[9];
  return eks
    .map((ek, i) =>
      i === 5_500 ? '{"registrationId": ' : JSON.stringify({ registrationId: `acme-big-${i}`, endorsementKey: ek }),
    )
    .join('\n');
}

export type StagingStack = Awaited<ReturnType<typeof startStagingStack>>;

/** The stack with storage; with `host`, the whole function app on the local host too (queues retried after 1 s). */
export async function startStagingStack(options: { host?: boolean } = {}) {
  const stack: TestStack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  const files = await lazyServices(stack.env).stagedFiles();
  let host: RunningHost | undefined;
  if (options.host) {
    const functions = await import('../../functions/index');
    host = await startAppHost({
      registrations: functions.registeredFunctions(),
      env: process.env,
      queue: { retryDelaySeconds: 1 },
    });
  }
  /** The import jobs as the use cases keep them, on the stack's Cosmos. */
  const jobs = () => new CosmosImportJobRepository(stack.services.store);

  /** Use-case dependencies whose queue messages are kept here instead of being sent. */
  function captured(sent: Sent[], stagedFiles: StagedFilesPort = files) {
    return {
      importJobs: async () => jobs(),
      events: async () => stack.services.events,
      queues: async () => ({
        send: async (queue: string, message: unknown) => void sent.push({ queue, message } as Sent),
      }),
      stagedFiles: async () => stagedFiles,
    };
  }

  /** Stages `text` and validates it share after share (budget 0: a share ends at every checkpoint). */
  async function stageAndValidate(
    text: string,
    options: {
      key: string;
      format?: ImportFormat;
      budgetMs?: number;
      signature?: string;
      signingCertificates?: string[];
      stagedFiles?: StagedFilesPort;
    },
  ) {
    const sent: Sent[] = [];
    const deps = captured(sent, options.stagedFiles);
    const staged = await stageUpload(deps, {
      manufacturerId: 'acme-tpm',
      createdBy: 'test',
      format: options.format ?? 'csv',
      idempotencyKey: options.key,
      body: streamOf(text),
      signature: options.signature,
      maxBytes: 1 << 30,
    });
    const jobId = staged.job.jobId;
    let shares = 0;
    let outcome: string;
    do {
      outcome = await validateStaged(
        deps,
        { jobId },
        { rules: { ...RULES, signingCertificates: options.signingCertificates }, maxRows: 1_000_000, ...options },
      );
      shares++;
    } while (outcome === 'continued');
    return { staged: staged.job, job: await jobs().get(jobId), sent, shares, outcome };
  }

  async function allRows(jobId: string) {
    const rows = [];
    let token: string | undefined;
    do {
      const page = await listRows(jobs(), jobId, undefined, token);
      rows.push(...page.rows);
      token = page.continuationToken;
    } while (token);
    return rows;
  }

  /** A job opened for the upload URL, `first` PUT there and started: the maker's side of the big-file path. */
  async function uploadedAndStarted(sent: Sent[], key: string, first: string, signature?: string) {
    const deps = captured(sent);
    const slot = await openUploadSlot(deps, {
      manufacturerId: 'acme-tpm',
      createdBy: 'test',
      format: 'csv',
      idempotencyKey: key,
    });
    const putTo = (text: string) =>
      fetch(slot.uploadUrl!, { method: 'PUT', body: text, headers: { 'x-ms-blob-type': 'BlockBlob' } });
    expect((await putTo(first)).status).toBe(201);
    const started = await startUploaded(deps, slot.job, { signature, maxBytes: 1 << 30 });
    expect(started.job).toMatchObject({ status: 'validating' });
    return { deps, jobId: slot.job.jobId, putTo };
  }

  return {
    stack,
    files,
    host: host as RunningHost,
    jobs,
    captured,
    stageAndValidate,
    allRows,
    uploadedAndStarted,
    close: async () => {
      // The imported enrollments point at the webhook: its runtime refreshes on timers until it is stopped.
      if (host) await (await import('../../functions/edge/allocation-runtime')).allocationRuntime().stop();
      await host?.close();
      await stack.close();
    },
  };
}

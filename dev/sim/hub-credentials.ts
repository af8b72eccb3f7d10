/**
 * Certificate renewal through the hub (MicrosoftDocs/azure-docs `articles/iot/concept-certificate-renewal.md`, "Submit a
 * new CSR directly to IoT Hub"): a connected device subscribes to `$iothub/credentials/res/#` and publishes
 * `{ id, csr, replace? }` to `$iothub/credentials/POST/issueCertificate/?$rid={rid}`; the hub answers on
 * `$iothub/credentials/res/{status}/?$rid={rid}`: 202 `{ correlationId, operationExpires }`, then 200
 * `{ correlationId, certificates }` (base64 DER, leaf first) or an error `{ errorCode, message, trackingId,
 * timestampUtc, info }`. One operation a device is active: another is 409 unless it `replace`s it.
 *
 * The concept page names the path but not the wire; the wire is taken from Microsoft's device SDKs (azure-sdk-for-c
 * `az_iot_hub_client` credentials topics and body `id`/`csr`/`replace`; the Java and .NET clients' 202 body
 * `correlationId`/`operationExpires`, "about 12 hours", and 200 body `certificates`) and from a published test report
 * against the service for the error codes: 400004 a bad field, 400006 JSON that does not parse, 400037 (after the 202) a
 * CSR the backend refuses, 409004 another operation active, 412001 nothing to replace. A request without `$rid` gets no
 * answer; answers go only to a connection subscribed to the response topic (an unsubscribed device's final answer waits
 * for its next subscription). What happens to a replaced operation's answer is not published: it is dropped here.
 */
import { randomUUID, type X509Certificate } from 'node:crypto';

export interface CredentialContext {
  /** The new chain from the device's ADR policy, leaf first (DER); throws when the policy or the CSR refuses. */
  issue: (deviceId: string, presented: X509Certificate[], csr: string) => Promise<Buffer[]>;
  /** Resolves when issuing may go on: tests hold it to see an operation in flight. */
  gate: () => Promise<void>;
  /** Publishes an answer to the device's live connection if it is subscribed; false when it could not. */
  respond: (deviceId: string, topic: string, body: unknown) => boolean;
}

interface Operation {
  rid: string;
  correlationId: string;
  operationExpires: string;
  cancelled: boolean;
}

const TOPIC = '$iothub/credentials/res';
const MAX_CSR = 8 * 1024;
const OPERATION_LIFETIME_MS = 12 * 3600_000;
const RID = /^(?=.{4,36}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
    readonly info: Record<string, unknown> | null = null,
  ) {
    super(message);
  }
}

const errorBody = (e: Refusal) => ({
  errorCode: e.errorCode,
  message: e.message,
  trackingId: randomUUID().replace(/-/g, '').toUpperCase(),
  timestampUtc: new Date().toISOString(),
  info: e.info,
});

/** The request's fields, or the refusal the service gives for each malformed one. */
function parse(deviceId: string, payload: Buffer): { csr: string; replace?: string } {
  const text = payload.toString('utf8');
  const bad = (what: string) => new Refusal(400, 400004, `Issue certificate request ${what}.`);
  if (!text.trim()) throw bad("payload is missing. Include a JSON payload with 'id' and 'csr' fields");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Refusal(400, 400006, 'cannot decode json format');
  }
  const fields = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<
    string,
    unknown
  >;
  if (Object.keys(fields).some((k) => !['id', 'csr', 'replace'].includes(k)))
    throw bad("payload contains an unknown field. Only 'id', 'csr', and 'replace' fields are allowed");
  if (typeof fields.id !== 'string' || !fields.id) throw bad("'id' field is invalid or missing");
  if (fields.id !== deviceId) throw bad("'id' field does not match the authenticated device ID");
  if (typeof fields.csr !== 'string' || !fields.csr) throw bad("'csr' field is invalid or missing");
  if (fields.csr.length > MAX_CSR) throw bad("'csr' field exceeds maximum allowed length");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(fields.csr)) throw bad("'csr' field is not valid base64");
  const replace = fields.replace ?? undefined;
  if (replace !== undefined && (typeof replace !== 'string' || (replace !== '*' && !RID.test(replace))))
    throw bad("'replace' field has an invalid format");
  return { csr: fields.csr, replace: replace as string | undefined };
}

/** One hub's credential operations, by device. */
export class CredentialRequests {
  private readonly active = new Map<string, Operation>();
  private readonly undelivered = new Map<string, Array<{ topic: string; body: unknown }>>();

  constructor(private readonly ctx: CredentialContext) {}

  /** A PUBLISH on `$iothub/credentials/POST/issueCertificate/`. */
  request(deviceId: string, presented: X509Certificate[], rid: string | null, payload: Buffer): void {
    if (!rid) return; // the hub cannot route an answer without a request ID
    const key = deviceId.toLowerCase();
    const answer = (status: number, body: unknown) =>
      this.ctx.respond(deviceId, `${TOPIC}/${status}/?$rid=${rid}`, body);
    try {
      const { csr, replace } = parse(deviceId, payload);
      const current = this.active.get(key);
      if (current && replace !== '*' && replace !== current.rid)
        throw new Refusal(409, 409004, 'A credential management operation is already active.', {
          requestId: current.rid,
          operationExpires: current.operationExpires,
          correlationId: current.correlationId,
        });
      if (!current && replace && replace !== '*')
        throw new Refusal(412, 412001, 'No active certificate request found to replace.', { requestId: replace });
      if (current) current.cancelled = true;
      const op: Operation = {
        rid,
        correlationId: randomUUID(),
        operationExpires: new Date(Date.now() + OPERATION_LIFETIME_MS).toISOString(),
        cancelled: false,
      };
      this.active.set(key, op);
      answer(202, { correlationId: op.correlationId, operationExpires: op.operationExpires });
      void this.complete(deviceId, op, presented, csr);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      answer(err.status, errorBody(err));
    }
  }

  /** The device subscribed to the response topic: a final answer that found it unsubscribed goes now. */
  subscribed(deviceId: string): void {
    const waiting = this.undelivered.get(deviceId.toLowerCase()) ?? [];
    this.undelivered.delete(deviceId.toLowerCase());
    for (const { topic, body } of waiting) this.final(deviceId, topic, body);
  }

  private async complete(deviceId: string, op: Operation, presented: X509Certificate[], csr: string): Promise<void> {
    let status = 200;
    let body: unknown;
    try {
      await this.ctx.gate();
      if (op.cancelled) return;
      const chain = await this.ctx.issue(deviceId, presented, csr);
      body = { correlationId: op.correlationId, certificates: chain.map((c) => c.toString('base64')) };
    } catch (err) {
      status = 400;
      body = errorBody(
        new Refusal(400, 400037, 'Unable to complete the certificate request at this time.', {
          correlationId: op.correlationId,
          credentialError: '400000',
          credentialMessage: (err as Error).message,
          requestId: op.rid,
        }),
      );
    }
    if (op.cancelled) return;
    this.active.delete(deviceId.toLowerCase());
    this.final(deviceId, `${TOPIC}/${status}/?$rid=${op.rid}`, body);
  }

  private final(deviceId: string, topic: string, body: unknown): void {
    if (this.ctx.respond(deviceId, topic, body)) return;
    const key = deviceId.toLowerCase();
    this.undelivered.set(key, [...(this.undelivered.get(key) ?? []), { topic, body }]);
  }
}

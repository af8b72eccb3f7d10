/**
 * DeviceRegistryPort over Azure Resource Manager (`Microsoft.DeviceRegistry`, api-version 2026-11-01): plain REST on
 * `@azure/core-rest-pipeline` with an Entra ID bearer token (`@azure/identity`), since no `@azure/arm-deviceregistry`
 * is published for JavaScript. ARM's long-running operations are followed to their end: a 201/202 naming
 * `Azure-AsyncOperation` (or only `Location`) is polled, waiting each poll's `Retry-After`, until `Succeeded`, and a
 * `Failed` or `Canceled` one is an error. 429 and 5xx are retried by the pipeline's own retry policy (Retry-After
 * honoured) — except for actions (POST `revokeAndRotate`): the pipeline would send one again after a lost answer
 * (its retry strategy resends on ECONNRESET whatever the method), and a second rotation would revoke the CA the
 * first one made, so actions go through a pipeline without retries and the caller settles a lost answer by reading
 * the CA again. Once an action's 202 has come, ADR has accepted it: a poll throttled past the pipeline's retries is
 * waited out and polled again (within the polls' bound), and any failure that still ends the following — a poll's
 * 4xx or 5xx, `Failed`/`Canceled`, no end — is an OutcomeUnknownError, never a ServiceError or ThrottledError, so no
 * caller takes it for a refusal or sends the action again. Locally the loopback agent dials the simulator's ADR,
 * which takes any bearer token.
 */
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';

import type { CertificatePolicyRef } from '../certificate-policy';
import type {
  DeviceRegistryPort,
  RegistryCertificateAuthority,
  RegistryCertificatePolicy,
  RegistryDevice,
  RegistryEnablement,
} from '../certificates/device-registry';
import { NotFoundError } from '../errors';
import { type ArmAnswer, armError, followAccepted, followOperation, parseBody } from './arm-operations';
import type { TransportOptions } from './transport';

export const ADR_API_VERSION = '2026-11-01';
export const ARM_ENDPOINT = 'https://management.azure.com';
const ARM_SCOPE = 'https://management.azure.com/.default';

interface ArmResource {
  id?: string;
  name: string;
  properties: Record<string, unknown>;
}

export interface DeviceRegistryOptions {
  /** `/subscriptions/{id}/resourceGroups/{name}`: where the namespaces are. */
  resourceGroupId: string;
  credential: TokenCredential;
  transport?: TransportOptions;
  endpoint?: string;
  /** How an operation's polls wait (tests pass a shorter one; the default waits Retry-After). */
  wait?: (ms: number) => Promise<void>;
  /** The HTTP client under the pipeline (tests give a scripted one; the default is Node's). */
  httpClient?: HttpClient;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const seg = encodeURIComponent;

export class ArmDeviceRegistry implements DeviceRegistryPort {
  private readonly pipeline: Pipeline;
  /** For actions: no retries at all, so an action is sent once (see above). */
  private readonly actionPipeline: Pipeline;
  private readonly client: HttpClient;
  private readonly endpoint: string;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(private readonly options: DeviceRegistryOptions) {
    const pipeline = (maxRetries?: number) => {
      const made = createPipelineFromOptions({
        userAgentOptions: { userAgentPrefix: 'dps-lifecycle' },
        // Locally, the loopback agent (it trusts the local CA and dials the simulator under the real host name).
        ...(options.transport ? { agent: options.transport.agent } : {}),
        ...(maxRetries === undefined ? {} : { retryOptions: { maxRetries } }),
      });
      made.addPolicy(bearerTokenAuthenticationPolicy({ credential: options.credential, scopes: ARM_SCOPE }));
      return made;
    };
    this.pipeline = pipeline();
    this.actionPipeline = pipeline(0);
    this.client = options.httpClient ?? createDefaultHttpClient();
    this.endpoint = options.endpoint ?? ARM_ENDPOINT;
    this.wait = options.wait ?? sleep;
  }

  async certificateAuthorities(namespaceName: string): Promise<RegistryCertificateAuthority[]> {
    const items = await this.list(`${this.namespace(namespaceName)}/certificateAuthorities`);
    return items.map((r) => caOf(namespaceName, r));
  }

  async certificateAuthority(namespaceName: string, name: string): Promise<RegistryCertificateAuthority | undefined> {
    const r = await this.get(this.ca(namespaceName, name));
    return r && caOf(namespaceName, r);
  }

  async certificatePolicies(namespaceName: string, ca: string): Promise<RegistryCertificatePolicy[]> {
    const items = await this.list(`${this.ca(namespaceName, ca)}/certificatePolicies`);
    return items.map((r) =>
      policyOf({ namespaceName, certificateAuthorityName: ca, certificatePolicyName: r.name }, r),
    );
  }

  async certificatePolicy(ref: CertificatePolicyRef): Promise<RegistryCertificatePolicy | undefined> {
    const path = `${this.ca(ref.namespaceName, ref.certificateAuthorityName)}/certificatePolicies/${seg(ref.certificatePolicyName)}`;
    const r = await this.get(path);
    return r && policyOf(ref, r);
  }

  async registryDevice(namespaceName: string, deviceName: string): Promise<RegistryDevice | undefined> {
    const r = await this.get(`${this.namespace(namespaceName)}/registryDevices/${seg(deviceName)}`);
    if (!r) return undefined;
    const p = r.properties ?? {};
    return {
      namespaceName,
      name: r.name,
      enablementState: p.enablementState === 'Disabled' ? 'Disabled' : 'Enabled',
      ...(str(p.externalDeviceId) ? { externalDeviceId: str(p.externalDeviceId) } : {}),
    };
  }

  async setDeviceEnablement(namespaceName: string, deviceName: string, state: RegistryEnablement): Promise<void> {
    const path = `${this.namespace(namespaceName)}/registryDevices/${seg(deviceName)}`;
    await this.send('PATCH', path, { properties: { enablementState: state } });
  }

  async revokeAndRotate(namespaceName: string, ca: string): Promise<void> {
    await this.send('POST', `${this.ca(namespaceName, ca)}/revokeAndRotate`);
  }

  private namespace(name: string): string {
    return `${this.options.resourceGroupId}/providers/Microsoft.DeviceRegistry/namespaces/${seg(name)}`;
  }

  private ca(namespaceName: string, name: string): string {
    return `${this.namespace(namespaceName)}/certificateAuthorities/${seg(name)}`;
  }

  private async get(path: string): Promise<ArmResource | undefined> {
    try {
      return (await this.send('GET', path)) as ArmResource;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Every page of a list (`nextLink` followed). */
  private async list(path: string): Promise<ArmResource[]> {
    const items: ArmResource[] = [];
    let next: string | undefined = this.url(path);
    while (next) {
      const page = (await this.call('GET', next)).body as { value?: ArmResource[]; nextLink?: string };
      items.push(...(page.value ?? []));
      next = page.nextLink;
    }
    return items;
  }

  private url(path: string): string {
    return `${this.endpoint}${path}?api-version=${ADR_API_VERSION}`;
  }

  /** One ARM call, its long-running operation followed to the end; answers the resource (or nothing). */
  private async send(method: string, path: string, body?: unknown): Promise<unknown> {
    const answer = await this.call(method, this.url(path), body);
    const asyncOperation = answer.headers.get('azure-asyncoperation');
    const location = answer.headers.get('location');
    if ((answer.status === 201 || answer.status === 202) && (asyncOperation || location)) {
      const poll = (url: string) => this.call('GET', url);
      if (method === 'POST') {
        await followAccepted(poll, this.wait, { asyncOperation, location, first: answer, what: `POST ${path}` });
        return undefined; // a POST action has nothing more to say
      }
      await followOperation(poll, this.wait, { asyncOperation, location, first: answer });
      // A PUT or PATCH ends with the resource as it now is.
      return (await this.call('GET', this.url(path))).body;
    }
    return answer.body;
  }

  private async call(method: string, url: string, body?: unknown): Promise<ArmAnswer> {
    const pipeline = method === 'POST' ? this.actionPipeline : this.pipeline;
    const request = createPipelineRequest({
      url,
      method: method as never,
      headers: createHttpHeaders({
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
      }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const response = await pipeline.sendRequest(this.client, request);
    const answer = { status: response.status, headers: response.headers, body: parseBody(response) };
    if (response.status >= 400) throw armError(method, url, answer);
    return answer;
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function caOf(namespaceName: string, r: ArmResource): RegistryCertificateAuthority {
  const p = r.properties ?? {};
  return {
    namespaceName,
    name: r.name,
    type: str(p.certificateAuthorityType) ?? 'unknown',
    subject: str(p.subject),
    notBefore: str(p.validityNotBefore),
    notAfter: str(p.validityNotAfter),
    provisioningState: str(p.provisioningState),
  };
}

function policyOf(ref: CertificatePolicyRef, r: ArmResource): RegistryCertificatePolicy {
  const p = r.properties ?? {};
  return {
    ...ref,
    validityPeriodInDays: Number(
      (p.certificate as { validityPeriodInDays?: number } | undefined)?.validityPeriodInDays,
    ),
    provisioningState: str(p.provisioningState),
  };
}

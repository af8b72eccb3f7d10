/**
 * The HTTP layer of the two IoT service SDKs (azure-iot-http-base `Http`), with a deadline on every request.
 * `RestApiClient` builds each request here and only then writes it, so this one place bounds every call the SDKs
 * and our adapters make: reads, writes, queries, bulk operations, import jobs.
 *
 * Why not the SDKs' own knobs: `executeApiCall`'s `timeout` argument, which no SDK method passes, calls
 * `request.setTimeout`, an idle timer that only emits 'timeout' and ends nothing; an agent's `timeout` is the same idle
 * timer. So the deadline is a timer of our own, over the whole exchange, and when it fires the caller hears the
 * deadline at once and the request is destroyed: its socket closes and leaves the agent's pool, nothing is left waiting
 * for an answer that will not come. The caller may not tell whether the service applied the call (iot-errors.ts makes
 * it a TransientError), exactly as after a connection reset.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';

import { Http } from 'azure-iot-http-base';

import { iotDeadlineMs, type IotDeadlines } from './iot-deadlines';

type Callback = (err: Error | null, body?: string, response?: IncomingMessage) => void;
type BuildRequest = Http['buildRequest'];

/** A call abandoned at its deadline: no answer came, whether it was applied is unknown. */
export class IotDeadlineError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(
    what: string,
    readonly deadlineMs: number,
  ) {
    super(`${what}: no answer within ${deadlineMs} ms`);
    this.name = 'TimeoutError';
  }
}

export class DeadlineHttp extends Http {
  constructor(private readonly deadlines: IotDeadlines = {}) {
    super();
  }

  override buildRequest(...args: Parameters<BuildRequest>): ClientRequest {
    const [method, path, headers, host, options, done] = args;
    // `options` is the callback when the caller gave no X509 or request options (the SDK's own overload).
    const given = (done ?? options) as Callback;
    const ms = iotDeadlineMs(method, path, this.deadlines);
    // Once only: a request destroyed mid-answer may report an error on both the request and the response.
    const state: { settled: boolean; timer?: NodeJS.Timeout } = { settled: false };
    const once: Callback = (err, body, response) => {
      if (state.settled) return;
      state.settled = true;
      clearTimeout(state.timer);
      given(err, body, response);
    };
    const request =
      done === undefined
        ? super.buildRequest(method, path, headers, host, once as never)
        : super.buildRequest(method, path, headers, host, options, once as never);
    state.timer = setTimeout(() => {
      once(new IotDeadlineError(`${method} ${path.split('?')[0]}`, ms));
      request.destroy();
    }, ms);
    return request;
  }
}

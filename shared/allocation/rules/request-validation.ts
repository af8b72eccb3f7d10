/** The AllocationRequest checked against its schema (request-schema.ts) by the code generated from it at build time. */
import type { ErrorObject } from 'ajv';

import { validateAllocationRequest } from '../../generated/request-validator';

function describe(e: ErrorObject): string {
  if (e.keyword === 'anyOf') return '/ needs an individualEnrollment or an enrollmentGroup';
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`;
}

/** Undefined when the body fits the schema; else what is wrong, path first. */
export function requestProblem(body: unknown): string | undefined {
  if (validateAllocationRequest(body)) return undefined;
  const errors = validateAllocationRequest.errors ?? [];
  // anyOf reports its branches first; the reason a caller can act on is the anyOf itself.
  return describe(errors.find((e) => e.keyword === 'anyOf') ?? errors[0]);
}

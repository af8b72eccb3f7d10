/**
 * Enrollment groups an operator creates (function key + the Admin role): `PUT /api/enrollment-groups/{id}` with
 * `{ attestation, certificatePolicy?, tags? }` → 201 (created) or 200 (the same request again); 409 when another
 * group holds the ID; 400 naming what is wrong (a policy of another namespace or not in ADR among them).
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';

import { groupDeps } from '../shared/composition';
import { ValidationError } from '../shared/errors';
import { createGroup, parseGroupRequest } from '../shared/groups';
import { authorizeAdmin } from './edge/caller';
import { readJson } from './edge/http-body';
import { conflict } from './edge/http-response';
import { http } from './edge/registry';

const MAX_GROUP_BYTES = 64 * 1024;

export async function putGroup(request: HttpRequest): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  const parsed = parseGroupRequest(
    request.params.id,
    await readJson(request, MAX_GROUP_BYTES, 'The body is not JSON: send { attestation, certificatePolicy?, tags? }.'),
  );
  if (!parsed.ok) throw new ValidationError(parsed.reason);
  const result = await createGroup(groupDeps(), parsed.value, auth.caller.principal);
  if (result.kind === 'conflict') return conflict(result.reason);
  return {
    status: result.kind === 'created' ? 201 : 200,
    jsonBody: result.group,
    headers: { Location: `/api/enrollment-groups/${encodeURIComponent(parsed.value.enrollmentGroupId)}` },
  };
}

http('enrollment-groups-put', {
  route: 'enrollment-groups/{id}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: putGroup,
});

/** The findings of a kind an operator reads: the open ones (or the suppressed ones), newest first. */
import type { FindingKind, FindingRepository } from './repository';

export async function listFindings(
  findings: FindingRepository,
  query: { kind: FindingKind; suppressed: boolean; continuationToken?: string },
) {
  const page = await findings.ofKind(query.kind, 1000, query.continuationToken);
  const items = page.items
    .filter((f) => !!f.suppressed === query.suppressed && !f.resolved)
    // `published` is the raise's own bookkeeping (raise.ts), not part of the finding.
    .map(({ _etag, _rid, _self, _ts, _attachments, published: _published, ...f }) => f);
  items.sort((a, b) => String(b.raisedAt).localeCompare(String(a.raisedAt)));
  return { kind: query.kind, findings: items, continuationToken: page.continuationToken };
}

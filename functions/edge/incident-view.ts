/** An incident as the API shows it: no lease, etag or cursors' internals. */
import type { Incident } from '../../shared/breach/model';

export const incidentView = ({ lease: _lease, _etag, resolution, undo: _undo, ...incident }: Incident) => ({
  ...incident,
  resolution: { phase: resolution.phase, pages: resolution.pages, caGroups: resolution.caGroups },
});

/** An incident as the API shows it: no lease, etag or cursors' internals; the CA without its PEM. */
import type { Incident } from '../../shared/incidents/rules/model';

export const incidentView = ({ lease: _lease, _etag, resolution, undo: _undo, ...incident }: Incident) => {
  const { pem, ...ca } = resolution.ca ?? { source: 'unknown' as const };
  return {
    ...incident,
    resolution: {
      phase: resolution.phase,
      pages: resolution.pages,
      caGroups: resolution.caGroups,
      ...(resolution.ca ? { ca: { ...ca, certificateKnown: !!pem } } : {}),
    },
  };
};

/** The plan as an operator reads it before approving: what it reaches and does, and who may let it run. */

export interface PlanSummary {
  /** Distinct devices the incident reaches. */
  devices: number;
  /** Devices per hub; devices on no hub are `withoutHub`. */
  perHub: Record<string, number>;
  withoutHub: number;
  enrollmentsToDisable: number;
  /** Devices of a group shut out one by one (a disabled individual enrollment under their registration ID). */
  groupDevicesToBlock: number;
  groupsToDisable: string[];
  /** What each hub step will do: disable (quarantine) or delete (contain), and how. */
  hubActions: Array<{ hub: string; action: 'disable' | 'delete'; devices: number; path: HubPath }>;
  deleteRegistrationRecords: number;
  /** The disabled group that makes DPS refuse every chain holding the compromised CA (its certificate known). */
  disallowCa?: { enrollmentGroupId: string; thumbprint: string };
  /** The first few registration IDs, for a human to recognise. */
  sample: string[];
  /** IDs the scope named that no enrollment, registration or hub device answers to: how many, and the first few. */
  notFound: { count: number; sample: string[] };
  /** What it does in Azure Device Registry (the namespace DPS is linked to), when the backend administers one. */
  adr?: AdrPlan;
}

/** Containment in Azure Device Registry: registry devices disabled (reversible), a compromised CA rotated (not). */
export interface AdrPlan {
  namespaceName: string;
  /**
   * Target devices looked up among the namespace's registry devices: those there (DPS issued them a certificate
   * through one of its policies) are disabled, so they cannot provision again; released, they are enabled again.
   */
  devicesToCheck: number;
  /**
   * The compromised policy's issuing CA revoked and rotated: a new key and certificate replace it, and the hubs stop
   * accepting every certificate the old one issued. ADR cannot undo it: releasing the incident leaves it rotated.
   */
  revokeAndRotate?: {
    certificatePolicy: string;
    certificateAuthorityName: string;
    irreversible: true;
    warning: string;
  };
}

/** Who may let the plan run: nobody needed (auto), any admin, or an admin other than its submitter (four eyes). */
export interface Approval {
  auto: boolean;
  otherAdmin: boolean;
  why: string;
}

/** How a hub step runs: bulk registry calls (≤ 100 devices each, within the throttle), or an IoT Hub import job. */
export type HubPath = 'bulk' | 'importJob';

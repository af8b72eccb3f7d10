/**
 * What resolution finds of an incident's scope, and where it stands: the devices it reaches, the compromised CA and
 * the groups taken whole because of it, and the cursor every resolution slice resumes from.
 */

/** A device the incident reaches, as resolution found it. */
export interface Target {
  registrationId: string;
  deviceId?: string;
  hub?: string;
  /** How it attests: its own individual enrollment, a group, or neither (a hub device with no enrollment found). */
  via: 'individual' | 'group' | 'none';
  enrollmentGroupId?: string;
}

/**
 * A group every member of which chains through the compromised CA: its signer is the CA (`signer`), or a CA the
 * compromised one issued (`issuedByCa`). Disabled whole; `caSubject` is its signer's subject.
 */
export interface CompromisedGroup {
  enrollmentGroupId: string;
  caSubject: string;
  relation?: 'signer' | 'issuedByCa';
}

/** The compromised CA as the incident came to know it. */
export interface CompromisedCa {
  sha1Thumbprint?: string;
  sha256Thumbprint?: string;
  subject?: string;
  issuer?: string;
  /** Its certificate (PEM): only with it can DPS be told to disallow the CA (a disabled group holding it). */
  pem?: string;
  /** A disabled group already disallows it in DPS (another incident's): this one holds it too. */
  disallowedInDps?: boolean;
  /** Where it was found: the incident itself, DPS's verified CA certificates, the inventory, a group's info. */
  source: 'incident' | 'dpsCaCertificates' | 'inventory' | 'enrollmentGroup' | 'unknown';
}

/**
 * Where resolution stands. Each phase pages through DPS with its continuation token kept here, so a worker stopped
 * anywhere goes on from the last page it saved.
 */
export interface ResolutionCursor {
  phase: 'caGroups' | 'ids' | 'members' | 'caMembers' | 'enrollments' | 'hubDevices' | 'done';
  /** Position in the phase's list (IDs named in the scope, groups whose members are listed). */
  index: number;
  continuationToken?: string;
  /** Pages of targets written so far. */
  pages: number;
  /** Groups whose members the incident reaches (named, or holding the CA). */
  memberGroups: string[];
  caGroups: CompromisedGroup[];
  /** The CA the scope names (`caCertificate` or `issuerThumbprint`), once looked up. */
  ca?: CompromisedCa;
  /** The group the scope names, when DPS has no such group: nothing to disable, said in the notes. */
  missingGroups?: string[];
  /**
   * Device IDs named in the scope that are not also registration IDs: looked for among individual enrollments
   * (their `deviceId`), then on the hubs (a device registered outside DPS).
   */
  unmatchedDeviceIds?: string[];
}

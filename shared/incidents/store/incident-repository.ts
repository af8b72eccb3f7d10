/**
 * IncidentRepository on the document store (Cosmos DB): the incident and its pages of targets share one partition
 * (`incidentId`), so a page is a point read and the incident's etag guards every checkpoint.
 */
import { CONTAINERS } from '../../containers';
import { ConflictError } from '../../errors';
import type { DocumentContainer, DocumentStore, Page, StoredDocument } from '../../ports';
import type { IncidentRepository } from '../repositories';
import type { Incident } from '../rules/model';
import type { Target } from '../rules/resolution';
import { holdsWhatWeWrote } from './holders';

type IncidentDoc = StoredDocument & Incident & { incidentId: string; type: 'incident' };
type TargetsDoc = StoredDocument & { incidentId: string; type: 'targets'; page: number; targets: Target[] };

const pageId = (id: string, page: number) => `${id}.targets.${page}`;

/** The incident as the domain knows it: no partition key, no document type, no Cosmos system fields but the etag. */
function plain({ _etag, incidentId: _p, type: _t, ...rest }: IncidentDoc): Incident {
  const fields = Object.entries(rest).filter(([key]) => !key.startsWith('_'));
  return { ...(Object.fromEntries(fields) as unknown as Incident), _etag };
}

export class CosmosIncidentRepository implements IncidentRepository {
  private readonly container: DocumentContainer<IncidentDoc>;
  private readonly pages: DocumentContainer<TargetsDoc>;

  constructor(store: DocumentStore) {
    this.container = store.container<IncidentDoc>(CONTAINERS.incidents.name);
    this.pages = store.container<TargetsDoc>(CONTAINERS.incidents.name);
  }

  async create(incident: Incident): Promise<{ created: boolean; incident: Incident }> {
    try {
      const doc = await this.container.create({ ...incident, incidentId: incident.id, type: 'incident' });
      return { created: true, incident: plain(doc) };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return { created: false, incident: (await this.get(incident.id)) as Incident };
    }
  }

  async get(id: string): Promise<Incident | undefined> {
    const doc = await this.container.read(id, id);
    return doc && plain(doc);
  }

  async list(pageSize: number, continuationToken?: string): Promise<Page<Incident>> {
    const page = await this.container.query(
      'SELECT * FROM c WHERE c.type = "incident" ORDER BY c.receivedAt DESC',
      {},
      { maxItems: pageSize, continuationToken },
    );
    return { items: page.items.map(plain), continuationToken: page.continuationToken };
  }

  async update(id: string, change: (incident: Incident) => Incident | undefined): Promise<Incident | undefined> {
    let tried: Incident | undefined;
    for (;;) {
      const current = await this.get(id);
      if (!current) return undefined;
      // 412 on our own write whose answer was lost (the store sent it again): the change is there already, and
      // applying it again would count it twice.
      if (tried && holdsWhatWeWrote(current, tried)) return current;
      const next = change(structuredClone(current));
      if (!next) return current;
      try {
        return plain(await this.container.replace({ ...next, incidentId: id, type: 'incident', _etag: current._etag }));
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err; // another writer got there first: read again, apply again
        tried = next;
      }
    }
  }

  async putTargets(id: string, page: number, targets: Target[]): Promise<void> {
    await this.pages.upsert({ id: pageId(id, page), incidentId: id, type: 'targets', page, targets });
  }

  async targets(id: string, page: number): Promise<Target[] | undefined> {
    return (await this.pages.read(pageId(id, page), id))?.targets;
  }
}

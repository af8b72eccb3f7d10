import { identifyCaller, mayActFor, parseLocalSecrets } from '../../../shared/auth/caller';
import { parseImportConfig } from '../../../shared/auth/manufacturers';

const config = parseImportConfig({
  manufacturers: [
    { id: 'acme-tpm', registrationIdPrefix: 'acme-', entraAppIds: ['app-acme'] },
    { id: 'globex', registrationIdPrefix: 'globex-' },
  ],
});
const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] ?? null });
const principal = (claims: Array<[string, string]>) =>
  Buffer.from(JSON.stringify({ auth_typ: 'aad', claims: claims.map(([typ, val]) => ({ typ, val })) })).toString(
    'base64',
  );

describe('who is calling', () => {
  const localSecrets = parseLocalSecrets('acme-tpm=s1,@admin=s2,ghost=s3');

  it('locally, a bearer secret names its manufacturer or the admin', () => {
    expect(
      identifyCaller(headers({ authorization: 'Bearer s1' }), config, { localSecrets, platformAuth: false }),
    ).toMatchObject({ ok: true, caller: { kind: 'manufacturer', manufacturerId: 'acme-tpm' } });
    expect(
      identifyCaller(headers({ authorization: 'Bearer s2' }), config, { localSecrets, platformAuth: false }),
    ).toMatchObject({ ok: true, caller: { kind: 'admin' } });
    expect(
      identifyCaller(headers({ authorization: 'Bearer s3' }), config, { localSecrets, platformAuth: false }),
    ).toMatchObject({ ok: false, status: 401 });
    expect(identifyCaller(headers({}), config, { localSecrets, platformAuth: false })).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  it('in Azure, the Entra application maps to a manufacturer and must hold the import role', () => {
    const call = (claims: Array<[string, string]>) =>
      identifyCaller(headers({ 'x-ms-client-principal': principal(claims) }), config, { platformAuth: true });
    expect(
      call([
        ['azp', 'app-acme'],
        ['roles', 'Manufacturer.Import'],
      ]),
    ).toMatchObject({ ok: true, caller: { kind: 'manufacturer', manufacturerId: 'acme-tpm' } });
    expect(call([['azp', 'app-acme']])).toMatchObject({
      ok: false,
      status: 403,
      reason: expect.stringContaining('Manufacturer.Import'),
    });
    expect(
      call([
        ['azp', 'app-unknown'],
        ['roles', 'Manufacturer.Import'],
      ]),
    ).toMatchObject({ ok: false, status: 403 });
    expect(
      call([
        ['appid', 'ops-console'],
        ['oid', 'user-ana'],
        ['roles', 'Admin'],
      ]),
    ).toMatchObject({ ok: true, caller: { kind: 'admin', principal: 'user-ana' } });
  });

  it('an operator is the user, not the client app: two admins through one console are two principals', () => {
    const call = (claims: Array<[string, string]>) =>
      identifyCaller(headers({ 'x-ms-client-principal': principal(claims) }), config, { platformAuth: true });
    const through = (oid: string) =>
      call([
        ['azp', 'ops-console'],
        ['oid', oid],
        ['roles', 'Admin'],
      ]);
    const [ana, ben] = [through('user-ana'), through('user-ben')];
    expect(ana).toMatchObject({ ok: true, caller: { principal: 'user-ana' } });
    expect(ben).toMatchObject({ ok: true, caller: { principal: 'user-ben' } });
    // An admin token that names no user cannot be told from another: refused rather than recorded as the app.
    expect(
      call([
        ['azp', 'ops-console'],
        ['roles', 'Admin'],
      ]),
    ).toMatchObject({ ok: false, status: 403, reason: expect.stringContaining('oid') });
    // A manufacturer is its application.
    expect(
      call([
        ['azp', 'app-acme'],
        ['oid', 'sp-acme'],
        ['roles', 'Manufacturer.Import'],
      ]),
    ).toMatchObject({ ok: true, caller: { principal: 'app-acme' } });
  });

  it('local admins are told apart, and a secret of the right length in other characters is refused, not a 500', () => {
    const secrets = parseLocalSecrets('@admin=s2,@admin2=s4');
    const who = (bearer: string) =>
      identifyCaller(headers({ authorization: `Bearer ${bearer}` }), config, {
        localSecrets: secrets,
        platformAuth: false,
      });
    expect(who('s2')).toMatchObject({ ok: true, caller: { kind: 'admin', principal: 'local admin' } });
    expect(who('s4')).toMatchObject({ ok: true, caller: { kind: 'admin', principal: 'local admin 2' } });
    // 'é' is two bytes in UTF-8: before, timingSafeEqual threw on the unequal byte lengths (a length oracle).
    expect(() => who('sé')).not.toThrow();
    expect(who('sé')).toMatchObject({ ok: false, status: 401 });
  });

  it('fails closed when App Service Authentication is off: the principal header could be forged', () => {
    const forged = identifyCaller(headers({ 'x-ms-client-principal': principal([['roles', 'Admin']]) }), config, {
      platformAuth: false,
    });
    expect(forged).toMatchObject({ ok: false, status: 401, reason: expect.stringContaining('not configured') });
  });

  it('a manufacturer acts only for itself; an admin for anyone', () => {
    expect(mayActFor({ kind: 'manufacturer', manufacturerId: 'acme-tpm', principal: 'x' }, 'globex')).toBe(false);
    expect(mayActFor({ kind: 'manufacturer', manufacturerId: 'acme-tpm', principal: 'x' }, 'acme-tpm')).toBe(true);
    expect(mayActFor({ kind: 'admin', principal: 'x' }, 'globex')).toBe(true);
  });

  it('refuses a configuration with duplicate or malformed manufacturers', () => {
    const m = (id: string, registrationIdPrefix = `${id}-`) => ({ id, registrationIdPrefix });
    expect(() => parseImportConfig({ manufacturers: [m('a-1'), m('a-1', 'other-')] })).toThrow(/appears twice/);
    expect(() => parseImportConfig({ manufacturers: [m('Bad Id')] })).toThrow(/invalid/);
  });

  it('gives every manufacturer a namespace of its own: a prefix is required, and no prefix starts another', () => {
    expect(() => parseImportConfig({ manufacturers: [{ id: 'acme' }] })).toThrow(
      "/manufacturers/0 must have required property 'registrationIdPrefix'",
    );
    // Compared without case, as registration IDs are: ACME- would let its holder enroll acme-east- IDs.
    expect(() =>
      parseImportConfig({
        manufacturers: [
          { id: 'globex', registrationIdPrefix: 'globex-' },
          { id: 'acme-east', registrationIdPrefix: 'acme-east-' },
          { id: 'acme', registrationIdPrefix: 'ACME-' },
        ],
      }),
    ).toThrow(/prefixes of acme \(ACME-\) and acme-east \(acme-east-\) overlap/);
    expect(
      parseImportConfig({
        manufacturers: [
          { id: 'acme', registrationIdPrefix: 'acme-' },
          { id: 'acme-east', registrationIdPrefix: 'acmeeast-' },
        ],
      }).manufacturers,
    ).toHaveLength(2);
  });
});

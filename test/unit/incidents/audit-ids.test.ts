/**
 * Review finding 7, from the attacker's side: two different changes never share an audit id (the second's record
 * would meet 409 and be dropped as "written before"). Hub device IDs are case-sensitive and may hold '.', '_' and
 * characters Cosmos refuses in an id; ids stay within Cosmos' 255 characters and never hold / \ ? #.
 */
import { auditIdOf } from '../../../shared/incidents/deps';

const valid = (id: string) => id.length <= 255 && !/[/\\?#]/.test(id);

test('ids that used to collide are distinct: case, separators inside a part, characters Cosmos refuses', () => {
  const pairs: Array<[string[], string[]]> = [
    [
      ['hub-1', 'Dev-A', 'deleted'],
      ['hub-1', 'dev-a', 'deleted'],
    ], // case-sensitive device IDs
    [
      ['hub-1', 'a.b', 'deleted'],
      ['hub-1.a', 'b', 'deleted'],
    ], // the separator inside a part
    [
      ['hub-1', 'a/b', 'deleted'],
      ['hub-1', 'a_b', 'deleted'],
    ], // '/' was made '_'
    [
      ['hub-1', 'a?b', 'deleted'],
      ['hub-1', 'a#b', 'deleted'],
    ],
    [
      ['hub-1', 'a%2Eb', 'deleted'],
      ['hub-1', 'a.b', 'deleted'],
    ], // an encoding spelled out in the ID
    [
      ['hub-1', 'a~b', 'deleted'],
      ['hub-1', 'a%7Eb', 'deleted'],
    ],
  ];
  for (const [a, b] of pairs) {
    const [x, y] = [auditIdOf('inc-1', ...a), auditIdOf('inc-1', ...b)];
    expect(x).not.toBe(y);
    expect(valid(x) && valid(y)).toBe(true);
  }
  // The same change is the same id (what makes a replay meet 409).
  expect(auditIdOf('inc-1', 'hub-1', 'Dev-A', 'deleted')).toBe(auditIdOf('inc-1', 'hub-1', 'Dev-A', 'deleted'));
  // Readable where nothing needs encoding (an id a test or an operator may look up).
  expect(auditIdOf('inc-f', 'redrive', '1')).toBe('inc-f.redrive.1');
});

test('long ids are hashed within 255 characters, never alike to a short one or to each other', () => {
  const long = 'd'.repeat(128); // IoT Hub device IDs go up to 128 characters
  const a = auditIdOf('i'.repeat(128), 'hub-with-a-long-name.azure-devices.net', long, 'deleted');
  const b = auditIdOf('i'.repeat(128), 'hub-with-a-long-name.azure-devices.net', `${long.slice(1)}e`, 'deleted');
  expect(a).not.toBe(b);
  expect(valid(a) && valid(b)).toBe(true);
  expect(a).toMatch(/~[0-9a-f]{64}$/);
  // A short id never holds '~' (it is encoded), so no short id is a hashed one.
  expect(auditIdOf('inc~1', 'x')).not.toContain('~');
  // A part that cannot be encoded (a lone surrogate) is hashed, not thrown on.
  expect(valid(auditIdOf('inc-1', 'hub-1', '\ud800', 'deleted'))).toBe(true);
  expect(auditIdOf('inc-1', 'hub-1', '\ud800', 'deleted')).not.toBe(auditIdOf('inc-1', 'hub-1', '\ud801', 'deleted'));
});

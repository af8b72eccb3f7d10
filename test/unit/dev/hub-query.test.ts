/** The local hubs' query language: `=` conditions joined by AND, and IN over a list (quotes of both kinds). */
import { parseDeviceQuery } from '../../../dev/sim/iothub';

test('IN takes a list of literals; AND inside a quoted value does not split the condition', () => {
  expect(
    parseDeviceQuery(`SELECT * FROM devices WHERE deviceId IN ['a', "o'b", 'x and y'] AND status = 'enabled'`),
  ).toEqual([
    { path: ['deviceId'], values: ['a', "o'b", 'x and y'] },
    { path: ['status'], values: ['enabled'] },
  ]);
  expect(parseDeviceQuery("SELECT * FROM devices WHERE connectionState = 'Connected'")).toEqual([
    { path: ['connectionState'], values: ['Connected'] },
  ]);
  expect(() => parseDeviceQuery("SELECT * FROM devices WHERE deviceId LIKE 'a%'")).toThrow(/Unsupported condition/);
});

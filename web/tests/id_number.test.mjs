// The page's ID-number check against the standard's own example and the demo
// registry's numbers (valid), and each kind of typo (refused with its reason).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkCharacter, idNumberProblem } from '../app/id-number.js';
import { repository } from './harness.mjs';

const TODAY = new Date(Date.UTC(2026, 10, 29));

test("valid numbers pass: GB 11643's example and every number of the demo registry", () => {
  assert.equal(checkCharacter('11010519491231002'), 'X', 'GB 11643-1999 Appendix example');
  const rows = readFileSync(`${repository}/demo/citizens.csv`, 'utf8').trim().split('\n').slice(1);
  for (const row of rows) assert.equal(idNumberProblem(row.split(',')[0], TODAY), null, row);
  assert.equal(idNumberProblem(' 11010519491231002x ', TODAY), null, 'a lower-case x and spaces are fine');
  assert.equal(idNumberProblem('110105491231002', TODAY), null, 'an old card\'s 15 digits are the authority\'s to convert');
});

test('each kind of typo is refused with its reason', () => {
  const cases = [
    ['11010519610804013', { key: 'id.length', params: { n: 17 } }],
    ['11010519610804O136', { key: 'id.characters', params: {} }],
    ['99010519610804013X', { key: 'id.region', params: { code: '99' } }],
    ['110105196102300136', { key: 'id.birth_date', params: { date: '1961-02-30' } }],
    ['110105206108040136', { key: 'id.birth_date', params: { date: '2061-08-04' } }],
    ['110105196108040137', { key: 'id.check', params: { expected: '6', found: '7' } }],
    ['110105196108041036', { key: 'id.check', params: { expected: '2', found: '6' } }], // two digits swapped
  ];
  for (const [typed, problem] of cases) assert.deepEqual(idNumberProblem(typed, TODAY), problem, typed);
});

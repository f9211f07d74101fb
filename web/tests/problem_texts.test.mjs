// Every refusal a page can meet reads in both languages: each HTTP problem
// type docs/ERRORS.md lists, and each form field a refusal can name, has its
// sentence in Chinese and in English, and no Chinese sentence is English.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PROBLEM_TEXTS, retryIn } from '../app/problem-texts.js';
import { repository } from './harness.mjs';

test('every problem type of docs/ERRORS.md has its sentence in both languages', () => {
  const errors = readFileSync(`${repository}/docs/ERRORS.md`, 'utf8');
  const table = errors.slice(errors.indexOf('## HTTP problem types'));
  const types = [...table.matchAll(/^\| `([a-z-]+)` \| \d{3} \|/gm)].map((m) => m[1]);
  assert.ok(types.length >= 30, `found ${types.length} problem types; did the table move?`);
  for (const type of types) {
    const text = PROBLEM_TEXTS[`problem.${type}`];
    assert.ok(text?.zh && text?.en, `problem.${type} has no sentence in both languages`);
  }
  for (const [key, { zh, en }] of Object.entries(PROBLEM_TEXTS)) {
    assert.match(zh, /[\u4e00-\u9fff]/, `${key}: the Chinese sentence is Chinese`);
    assert.ok(en.length > 0, key);
    const codes = key.startsWith('code.') ? key.slice(5) : null;
    if (codes) assert.ok(errors.includes(`\`${codes}\``), `${codes} is a documented code`);
  }
});

test('every form field a refusal can name (docs/ERRORS.md) has its sentence in both languages', () => {
  const errors = readFileSync(`${repository}/docs/ERRORS.md`, 'utf8');
  const from = errors.indexOf('| field | where |');
  const table = errors.slice(from, errors.indexOf('\n\n', from));
  const fields = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(fields, ['id_number', 'name', 'card_expiry', 'edition', 'pin']);
  for (const field of fields) {
    const text = PROBLEM_TEXTS[`field.${field}`];
    assert.ok(text?.zh && text?.en, `field.${field} has no sentence in both languages`);
  }
});

test('a refusal with Retry-After says when to try again, in both languages, never too early', () => {
  assert.equal(retryIn(null), null);
  assert.equal(retryIn(0), null);
  assert.deepEqual(retryIn(30), { zh: '请 30 秒后再试。', en: 'Try again in 30 s.' });
  assert.deepEqual(retryIn(90), { zh: '请 90 秒后再试。', en: 'Try again in 90 s.' });
  assert.deepEqual(retryIn(91), { zh: '请 2 分钟后再试。', en: 'Try again in 2 min.' });
  assert.deepEqual(retryIn(3600), { zh: '请 60 分钟后再试。', en: 'Try again in 60 min.' });
});

'use strict';
/**
 * tests/vectors/webhooks.json, the vectors Python also checks: up to date with the generator,
 * and right by an independent computation with node:crypto (not the standardwebhooks code).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');

const { loadAction } = require('../scripts/build-actions.js');
const { renderVectors, VECTORS_PATH } = require('../scripts/generate-vectors.js');

const action = loadAction('send-registration-to-azure');

const committed = fs.readFileSync(VECTORS_PATH, 'utf8');
const vectors = JSON.parse(committed);

test('the committed vectors are what the generator makes today', () => {
  assert.equal(committed, renderVectors(), 'run: node auth0/scripts/generate-vectors.js');
});

test('the vectors cover non-ASCII bodies and odd user ids', () => {
  assert.ok(vectors.signatures.length >= 7);
  assert.ok(vectors.signatures.some((v) => /[^\x00-\x7f]/.test(v.body)));
  const userIds = vectors.registration_ids.map((v) => v.user_id);
  for (const odd of ['samlp|acme|jdoe', 'auth0|a/b#c?d', 'custom|😀']) assert.ok(userIds.includes(odd), odd);
});

test('each signature is HMAC-SHA256 over "id.timestamp.body" with the decoded secret', () => {
  for (const vector of vectors.signatures) {
    const key = Buffer.from(vector.secret.slice('whsec_'.length), 'base64');
    const expected = crypto
      .createHmac('sha256', key)
      .update(`${vector.msg_id}.${vector.timestamp}.${vector.body}`, 'utf8')
      .digest('base64');
    assert.equal(vector.signature, `v1,${expected}`, vector.msg_id);
  }
});

test('the Action signs each vector to the same header', () => {
  for (const vector of vectors.signatures) {
    const config = action.readConfig({
      WEBHOOK_SECRET: vector.secret,
      INGEST_URL: 'https://ingest.example/api/registrations',
      FUNCTION_KEY: 'k',
    });
    const headers = action.signedHeaders(config, vector.msg_id, new Date(vector.timestamp * 1000), vector.body);
    assert.equal(headers['webhook-signature'], vector.signature);
    assert.equal(headers['webhook-timestamp'], String(vector.timestamp));
  }
});

/** The id formula by hand, with the canonical time taken from the vectors file. */
function expectedId(prefix, tenantId, userId, canonical) {
  const digest = crypto
    .createHash('sha256')
    .update(Buffer.concat([Buffer.from(tenantId), Buffer.from([0]), Buffer.from(userId), Buffer.from([0])]))
    .update(Buffer.from(canonical))
    .digest('hex');
  return `${prefix}${digest.slice(0, 32)}`;
}

/** The canonical text by an independent route: Date for the instant, the digits cut by hand. */
function independentCanonical(input) {
  const fraction = (input.match(/\.(\d+)/)?.[1] ?? '').padEnd(3, '0').slice(0, 3);
  const wholeSeconds = new Date(input.replace(/\.\d+/, '')).toISOString();
  return `${wholeSeconds.slice(0, 20)}${fraction}Z`;
}

test('canonical_ms: UTC, truncated (never rounded) to milliseconds', () => {
  assert.ok(vectors.canonical_ms.length >= 10);
  for (const { input, canonical } of vectors.canonical_ms) {
    assert.match(canonical, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, input);
    assert.equal(action.canonicalMs(input), canonical, input);
    if (!input.startsWith('0001') && !input.startsWith('9999')) assert.equal(independentCanonical(input), canonical, input);
  }
  assert.equal(action.canonicalMs(new Date('2026-11-26T03:00:00.250Z')), '2026-11-26T03:00:00.250Z');
  for (const input of vectors.canonical_ms_invalid) assert.equal(action.canonicalMs(input), null, input);
  for (const other of [null, undefined, 1795665600, new Date('nope'), '2026-11-26T03:00:00+24:00']) {
    assert.equal(action.canonicalMs(other), null, String(other));
  }
});

test('each registration id is reg_ + 32 hex of sha256(tenant NUL user NUL canonical created_at)', () => {
  for (const vector of vectors.registration_ids) {
    const canonical = action.canonicalMs(vector.created_at);
    assert.equal(vector.registration_id, expectedId('reg_', vector.tenant_id, vector.user_id, canonical));
    assert.equal(action.registrationId(vector.tenant_id, vector.user_id, vector.created_at), vector.registration_id);
  }
  const byUserAndInstant = new Map();
  for (const vector of vectors.registration_ids) {
    const key = `${vector.tenant_id}\0${vector.user_id}\0${action.canonicalMs(vector.created_at)}`;
    byUserAndInstant.set(key, [...(byUserAndInstant.get(key) ?? []), vector.registration_id]);
  }
  const idSets = [...byUserAndInstant.values()].map((ids) => new Set(ids));
  assert.ok(idSets.every((ids) => ids.size === 1), 'one instant, one id, whatever the notation');
  assert.ok([...byUserAndInstant.values()].some((ids) => ids.length >= 3), 'the vectors write one instant 3+ ways');
  assert.equal(new Set(idSets.map((ids) => [...ids][0])).size, idSets.length, 'ids differ otherwise');
});

test('each deletion id is the same formula under del_, never a registration id', () => {
  const registrationIds = new Set(vectors.registration_ids.map((v) => v.registration_id));
  for (const vector of vectors.deletion_ids) {
    const canonical = action.canonicalMs(vector.deleted_at);
    assert.equal(vector.deletion_id, expectedId('del_', vector.tenant_id, vector.user_id, canonical));
    assert.equal(registrationIds.has(vector.deletion_id), false);
  }
});

test('each signed body travels under the id of its own tenant, user and created_at', () => {
  for (const vector of vectors.signatures) {
    const body = JSON.parse(vector.body);
    assert.equal(vector.msg_id, action.registrationId(body.tenant.id, body.user.user_id, body.user.created_at));
  }
});

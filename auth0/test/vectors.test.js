'use strict';
/**
 * tests/vectors/webhooks.json, the vectors Python also checks: up to date with the generator,
 * and right by an independent computation with node:crypto (not the standardwebhooks code).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');

const action = require('../tenant/actions/send-registration-to-azure/code.js');
const { renderVectors, VECTORS_PATH } = require('../scripts/generate-vectors.js');

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

test('each registration id is reg_ + 32 hex of sha256(tenant NUL user)', () => {
  for (const vector of vectors.registration_ids) {
    const digest = crypto
      .createHash('sha256')
      .update(Buffer.concat([Buffer.from(vector.tenant_id), Buffer.from([0]), Buffer.from(vector.user_id)]))
      .digest('hex');
    assert.equal(vector.registration_id, `reg_${digest.slice(0, 32)}`);
    assert.equal(action.registrationId(vector.tenant_id, vector.user_id), vector.registration_id);
  }
  const ids = new Set(vectors.registration_ids.map((v) => v.registration_id));
  assert.equal(ids.size, vectors.registration_ids.length, 'ids differ for different (tenant, user)');
});

#!/usr/bin/env node
'use strict';
/**
 * Write tests/vectors/webhooks.json: Standard Webhooks signatures exactly as the Action
 * makes them, registration and deletion ids, and the canonical millisecond times the ids
 * hash, for the JS and Python suites to check on both sides. Deterministic: the same code
 * gives the same file.
 *
 *   node auth0/scripts/generate-vectors.js          # rewrite the file
 *   node auth0/scripts/generate-vectors.js --check  # exit 1 if the file is out of date
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { loadAction } = require('../scripts/build-actions.js');
const { loadEvent, EVENT_NAMES } = require('../testing/events.js');

const action = loadAction('send-registration-to-azure');

const VECTORS_PATH = path.join(__dirname, '..', '..', 'tests', 'vectors', 'webhooks.json');
const BUILT_AT = new Date('2026-11-26T04:00:00.000Z');

/** A whsec_ secret of `bytes` key bytes derived from a label (16, 24, 32: '==', none, '='). */
function vectorSecret(label, bytes) {
  const key = crypto.createHash('sha256').update(`vectors/${label}`).digest().subarray(0, bytes);
  return `whsec_${key.toString('base64')}`;
}

const SECRETS = [vectorSecret('a', 32), vectorSecret('b', 24), vectorSecret('c', 16)];

/** Bodies: every test event as the Action serializes it, plus odd but valid JSON text. */
function vectorBodies() {
  const all = action.parseFieldSelection('all').fields;
  const bodies = EVENT_NAMES.map((name) => {
    const event = loadEvent(name);
    return {
      tenantId: event.tenant.id,
      userId: event.user.user_id,
      createdAt: event.user.created_at,
      body: action.serializePayload(event, all, BUILT_AT, action.SOURCE).body,
    };
  });
  const odd = {
    type: 'user.registered',
    schema_version: 1,
    source: 'first-login',
    tenant: { id: 'tenant-ü' },
    user: {
      user_id: 'custom|名前 with space\\and "quotes"',
      created_at: '2026-11-26T03:30:00.000Z',
      name: '😀 Ærøskøbing – “quoted” \u2028 line separator',
      given_name: 'tab\there',
    },
  };
  bodies.push({
    tenantId: odd.tenant.id,
    userId: odd.user.user_id,
    createdAt: odd.user.created_at,
    body: JSON.stringify(odd),
  });
  return bodies;
}

const CREATED_AT = '2026-11-26T03:12:45.118Z';

/** (tenant, user id, created_at): odd ids, and one instant written several ways. */
const ID_TRIPLES = [
  ['acme-prod', 'auth0|6745a1f09c2b3d4e5f607182', CREATED_AT],
  ['acme-prod', 'sms|6745a2b7d1e2f3a4b5c6d7e8', CREATED_AT],
  ['acme-prod', 'email|6745a4d2f1a2b3c4d5e6f708', CREATED_AT],
  ['acme-prod', 'google-oauth2|102938475610293847561', CREATED_AT],
  ['acme-prod', 'samlp|acme|jdoe', CREATED_AT],
  ['acme-prod', 'auth0|a/b#c?d', CREATED_AT],
  ['acme-prod', 'auth0|back\\slash%2F and space', CREATED_AT],
  ['acme-prod', 'auth0|zoë.müller', CREATED_AT],
  ['acme-prod', 'custom|名前', CREATED_AT],
  ['acme-prod', 'custom|😀', CREATED_AT],
  ['tenant-ü', 'auth0|same-user', CREATED_AT],
  ['ACME-PROD', 'auth0|same-user', CREATED_AT],
  ['acme-prod', 'auth0|same-user', CREATED_AT],
  ['a', 'b|c', CREATED_AT],
  ['a|b', 'c', CREATED_AT],
  ['acme-prod', `auth0|${'x'.repeat(600)}`, CREATED_AT],
  // The same instant in other notations: the same id.
  ['acme-prod', 'auth0|same-user', '2026-11-26T03:12:45.118999Z'],
  ['acme-prod', 'auth0|same-user', '2026-11-26T04:42:45.118+01:30'],
  ['acme-prod', 'auth0|same-user', '2026-11-25T22:12:45.1184-05:00'],
  // One millisecond later, or a re-signup: another id.
  ['acme-prod', 'auth0|same-user', '2026-11-26T03:12:45.119Z'],
  ['acme-prod', 'auth0|same-user', '2026-12-01T09:00:00Z'],
];

/** (tenant, user id, deleted_at) for deletion ids: the same formula under `del_`. */
const DELETION_TRIPLES = [
  ['acme-prod', 'auth0|same-user', '2026-11-26T05:00:00.000Z'],
  ['acme-prod', 'auth0|same-user', '2026-11-26T05:00:00.001Z'],
  ['acme-prod', 'google-oauth2|102938475610293847561', '2026-11-27T10:15:00.5+02:00'],
  ['acme-prod', 'custom|😀', '2026-11-26T05:00:00Z'],
  ['acme-prod', 'auth0|same-user', CREATED_AT],
];

/** Times as sent, and the canonical text the ids hash: UTC, truncated to milliseconds. */
const CANONICAL_INPUTS = [
  '2026-11-26T03:00:00.000Z',
  '2026-11-26T03:00:00Z',
  '2026-11-26T03:00:00.1Z',
  '2026-11-26T03:00:00.123456Z',
  '2026-11-26T03:00:00.999999Z',
  '2026-11-26T03:00:00+00:00',
  '2026-11-26T05:30:00.250+02:30',
  '2026-11-25T23:59:59.999-03:00',
  '2026-12-31T23:30:00-01:00',
  '2028-02-29T12:00:00Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999Z',
];

/** Times both sides refuse: no zone, no such day or hour, outside years 1-9999, not a time. */
const CANONICAL_INVALID = [
  '2026-11-26T03:00:00',
  '2026-02-30T00:00:00Z',
  '2026-11-26T25:00:00Z',
  '0001-01-01T00:00:00+01:00',
  '9999-12-31T23:30:00-01:00',
  'yesterday',
  '',
];

function buildVectors() {
  const signatures = vectorBodies().flatMap(({ tenantId, userId, createdAt, body }, index) => {
    const secret = SECRETS[index % SECRETS.length];
    const msgId = action.registrationId(tenantId, userId, createdAt);
    const timestamp = 1795665600 + index * 97;
    const config = { functionKey: 'unused', webhooks: action.readConfig(secretsFor(secret)).webhooks };
    const headers = action.signedHeaders(config, msgId, new Date(timestamp * 1000), body);
    return [{ secret, msg_id: msgId, timestamp, body, signature: headers['webhook-signature'] }];
  });
  const registrationIds = ID_TRIPLES.map(([tenantId, userId, createdAt]) => ({
    tenant_id: tenantId,
    user_id: userId,
    created_at: createdAt,
    registration_id: action.registrationId(tenantId, userId, createdAt),
  }));
  const deletionIds = DELETION_TRIPLES.map(([tenantId, userId, deletedAt]) => ({
    tenant_id: tenantId,
    user_id: userId,
    deleted_at: deletedAt,
    deletion_id: action.hashedId('del_', tenantId, userId, deletedAt),
  }));
  for (const input of CANONICAL_INVALID) {
    if (action.canonicalMs(input) !== null) throw new Error(`${input} should be refused`);
  }
  return {
    comment:
      'Generated by auth0/scripts/generate-vectors.js; do not edit. Checked by ' +
      'auth0/test/vectors.test.js and tests/unit/test_vectors.py. Ids: prefix + 32 hex of ' +
      'sha256(utf8(tenant_id) 0x00 utf8(user_id) 0x00 utf8(canonical_ms(time))).',
    signatures,
    registration_ids: registrationIds,
    deletion_ids: deletionIds,
    canonical_ms: CANONICAL_INPUTS.map((input) => ({ input, canonical: action.canonicalMs(input) })),
    canonical_ms_invalid: CANONICAL_INVALID,
  };
}

function secretsFor(secret) {
  return { WEBHOOK_SECRET: secret, INGEST_URL: 'https://ingest.example/api/registrations', FUNCTION_KEY: 'k' };
}

function renderVectors() {
  return `${JSON.stringify(buildVectors(), null, 2)}\n`;
}

function main(argv) {
  const rendered = renderVectors();
  if (argv.includes('--check')) {
    const current = fs.existsSync(VECTORS_PATH) ? fs.readFileSync(VECTORS_PATH, 'utf8') : '';
    if (current !== rendered) {
      console.error(`${VECTORS_PATH} is out of date: run node auth0/scripts/generate-vectors.js`);
      return 1;
    }
    return 0;
  }
  fs.writeFileSync(VECTORS_PATH, rendered);
  console.log(`wrote ${VECTORS_PATH}`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

module.exports = { buildVectors, renderVectors, VECTORS_PATH };

'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');

const { loadAction } = require('../scripts/build-actions.js');
const { loadEvent } = require('../testing/events.js');

const action = loadAction('send-registration-to-azure');

const NOW = new Date('2026-11-26T04:00:00.000Z');
const NOTHING = new Set();
const selection = (value) => action.parseFieldSelection(value).fields;

test('database signup: required and non-personal fields only, by default', () => {
  const payload = action.buildPayload(loadEvent('database'), NOTHING, NOW);
  assert.deepEqual(payload, {
    type: 'user.registered',
    schema_version: 1,
    tenant: { id: 'acme-prod' },
    connection: {
      id: 'con_2n5Xh8WvKq3LbR0T',
      name: 'Username-Password-Authentication',
      strategy: 'auth0',
    },
    user: {
      user_id: 'auth0|6745a1f09c2b3d4e5f607182',
      created_at: '2026-11-26T03:12:45.118Z',
      email_verified: false,
      phone_verified: false,
    },
    request: { language: 'pt-BR', hostname: 'acme.eu.auth0.com' },
  });
});

test('database signup with email opted in matches the shared sample payload', () => {
  const payload = action.buildPayload(
    loadEvent('database'),
    selection('email,name,nickname,picture,user_metadata,app_metadata,ip,user_agent'),
    NOW,
  );
  // Given the same user as /work/shared/samples/events/database-signup.json
  assert.equal(payload.user.email, 'ana.silva@example.com');
  assert.equal(payload.user.nickname, 'ana.silva');
  assert.deepEqual(payload.user.user_metadata, {});
  assert.deepEqual(payload.request, {
    language: 'pt-BR',
    hostname: 'acme.eu.auth0.com',
    ip: '203.0.113.7',
    user_agent:
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  });
  // geoip, method, updated_at, tenant-in-user and connection metadata are never forwarded
  assert.equal(payload.request.geoip, undefined);
  assert.equal(payload.request.method, undefined);
  assert.equal(payload.user.updated_at, undefined);
  assert.equal(payload.user.tenant, undefined);
  assert.equal(payload.connection.metadata, undefined);
});

test('passwordless SMS: a phone number and no email', () => {
  const payload = action.buildPayload(loadEvent('passwordless-sms'), selection('email phone_number'), NOW);
  assert.equal(payload.user.user_id, 'sms|6745a2b7d1e2f3a4b5c6d7e8');
  assert.equal(payload.user.phone_number, '+5511987654321');
  assert.equal(payload.user.phone_verified, true);
  assert.equal('email' in payload.user, false);
  assert.equal('email_verified' in payload.user, false);
  assert.deepEqual(payload.connection, { id: 'con_Q8pL2mZr7YtW4xVd', name: 'sms', strategy: 'sms' });
});

test('passwordless email: email connection and strategy', () => {
  const payload = action.buildPayload(loadEvent('passwordless-email'), selection('email'), NOW);
  assert.equal(payload.user.user_id, 'email|6745a4d2f1a2b3c4d5e6f708');
  assert.equal(payload.user.email, 'kenji.tanaka@example.jp');
  assert.equal(payload.user.email_verified, true);
  assert.equal(payload.connection.strategy, 'email');
  assert.equal('phone_number' in payload.user, false);
});

test('social-shaped user id and names survive untouched', () => {
  const payload = action.buildPayload(loadEvent('social-google'), selection('all'), NOW);
  assert.equal(payload.user.user_id, 'google-oauth2|102938475610293847561');
  assert.equal(payload.user.given_name, 'María');
  assert.equal(payload.user.family_name, 'González');
  assert.deepEqual(payload.user.app_metadata, { provider: 'google-oauth2' });
  assert.equal(payload.request.ip, '2001:db8:85a3::8a2e:370:7334');
});

test('enterprise-shaped id with pipes, and no picture in the event', () => {
  const payload = action.buildPayload(loadEvent('enterprise-saml'), selection('all'), NOW);
  assert.equal(payload.user.user_id, 'samlp|acme|jdoe');
  assert.deepEqual(payload.connection, { id: 'con_SamlAcme5Hj8Kq2W', name: 'acme', strategy: 'samlp' });
  assert.equal('picture' in payload.user, false, 'absent stays absent, not null');
  assert.equal('user_agent' in payload.request, false);
});

test('odd custom-db ids and non-ASCII metadata round-trip through JSON', () => {
  const { body } = action.serializePayload(loadEvent('custom-db-odd-id'), selection('all'), NOW);
  const parsed = JSON.parse(body);
  assert.equal(parsed.user.user_id, 'auth0|a/b#c?d');
  assert.equal(parsed.user.email, 'zoë.müller+newsletter@example.de');
  assert.deepEqual(parsed.user.user_metadata.referral, { code: 'WINTER26', campaign: 'newsletter' });
  assert.equal(parsed.user.created_at, '2026-11-26T03:15:30Z');
});

test('each optional field is sent only when selected', () => {
  const event = loadEvent('pii-heavy');
  for (const field of action.OPTIONAL_FIELDS) {
    const payload = action.buildPayload(event, new Set([field]), NOW);
    const isRequestField = field === 'ip' || field === 'user_agent';
    const sent = isRequestField ? payload.request : payload.user;
    assert.deepEqual(sent[field], isRequestField ? event.request[field] : event.user[field], field);
    const others = action.OPTIONAL_FIELDS.filter((other) => other !== field);
    for (const other of others) {
      assert.equal(other in payload.user || other in payload.request, false, `${other} leaked with ${field}`);
    }
  }
});

test('SEND_FIELDS parsing: separators, all, none, unknown names', () => {
  assert.deepEqual([...selection('')], []);
  assert.deepEqual([...selection(undefined)], []);
  assert.deepEqual([...selection('none')], []);
  assert.deepEqual([...selection(' email ,phone_number\tip ')].sort(), ['email', 'ip', 'phone_number']);
  assert.equal(selection('all').size, action.OPTIONAL_FIELDS.length);
  assert.deepEqual(action.parseFieldSelection('email,emial,Phone').unknown, ['emial', 'Phone']);
});

test('null stays null when selected; a missing created_at becomes the execution time', () => {
  const event = loadEvent('database');
  event.user.email = null;
  delete event.user.created_at;
  const payload = action.buildPayload(event, selection('email'), NOW);
  assert.equal(payload.user.email, null);
  assert.equal(payload.user.created_at, '2026-11-26T04:00:00.000Z');
});

test('a Date created_at is sent as ISO 8601', () => {
  const event = loadEvent('database');
  event.user.created_at = new Date('2026-11-26T03:12:45.118Z');
  assert.equal(action.buildPayload(event, NOTHING, NOW).user.created_at, '2026-11-26T03:12:45.118Z');
});

test('no request object in the event: no request in the payload', () => {
  const event = loadEvent('database');
  delete event.request;
  assert.equal('request' in action.buildPayload(event, selection('all'), NOW), false);
});

test('missing tenant.id or user_id is a clear error', () => {
  const noTenant = loadEvent('database');
  delete noTenant.tenant;
  assert.throws(() => action.buildPayload(noTenant, NOTHING, NOW), {
    name: 'InvalidEventError',
    message: /tenant\.id/,
  });
  const noUser = loadEvent('database');
  noUser.user.user_id = '';
  assert.throws(() => action.buildPayload(noUser, NOTHING, NOW), {
    name: 'InvalidEventError',
    message: /user\.user_id/,
  });
});

test('a body over 64 KiB drops every optional field instead of being refused', () => {
  const event = loadEvent('pii-heavy');
  event.user.user_metadata = { notes: 'x'.repeat(action.MAX_BODY_BYTES) };
  const { body, trimmed } = action.serializePayload(event, selection('all'), NOW);
  assert.equal(trimmed, true);
  assert.ok(Buffer.byteLength(body) < 1024);
  const parsed = JSON.parse(body);
  assert.equal(parsed.user.user_id, 'auth0|piiheavy0123456789abcdef');
  assert.equal('email' in parsed.user, false);
  assert.equal('user_metadata' in parsed.user, false);
});

test('a body just under the limit is sent whole', () => {
  const event = loadEvent('database');
  const base = action.serializePayload(event, selection('user_metadata'), NOW).body;
  const room = action.MAX_BODY_BYTES - Buffer.byteLength(base) - '"n":""'.length;
  event.user.user_metadata = { n: 'y'.repeat(room) };
  const { body, trimmed } = action.serializePayload(event, selection('user_metadata'), NOW);
  assert.equal(Buffer.byteLength(body), action.MAX_BODY_BYTES);
  assert.equal(trimmed, false);
});

test('source: "action" from the registration Action, placed right after schema_version', () => {
  const { body } = action.serializePayload(loadEvent('database'), NOTHING, NOW, action.SOURCE);
  assert.ok(body.startsWith('{"type":"user.registered","schema_version":1,"source":"action","tenant":'), body);
  assert.equal('source' in action.buildPayload(loadEvent('database'), NOTHING, NOW), false, 'absent unless given');
});

test('a created_at that is not an ISO 8601 time with a zone is refused before sending', () => {
  for (const createdAt of ['2026-11-26T03:12:45', 'last tuesday', '2026-13-01T00:00:00Z']) {
    const event = loadEvent('database');
    event.user.created_at = createdAt;
    assert.throws(() => action.buildPayload(event, NOTHING, NOW), {
      name: 'InvalidEventError',
      message: /user\.created_at/,
    });
  }
});

test('the registration id follows created_at: same instant same id, a re-signup another', () => {
  const id = (createdAt) => action.registrationId('acme-prod', 'auth0|x', createdAt);
  assert.equal(id('2026-11-26T03:12:45.118Z'), id('2026-11-26T04:12:45.118999+01:00'));
  assert.equal(id('2026-11-26T03:12:45.118Z'), id(new Date('2026-11-26T03:12:45.118Z')));
  assert.notEqual(id('2026-11-26T03:12:45.118Z'), id('2026-11-26T03:12:45.119Z'));
  assert.match(id('2026-11-26T03:12:45.118Z'), /^reg_[0-9a-f]{32}$/);
  assert.throws(() => id('2026-11-26T03:12:45'), { name: 'InvalidEventError' });
});

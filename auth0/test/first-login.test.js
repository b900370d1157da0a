'use strict';
/**
 * The post-login Action (send-first-login-to-azure): first logins only, one signed attempt
 * under a hard budget, never a denied login, never a thrown error. Real time against a real
 * local HTTP server that hangs, refuses, stalls or answers slowly; the production budget is
 * used wherever the timing is asserted.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { Webhook } = require('standardwebhooks');

const { loadAction } = require('../scripts/build-actions.js');
const { withIngest, refusedUrl } = require('../testing/ingest-double.js');
const { loadEvent, secretsFor, testSecret } = require('../testing/events.js');

const firstLogin = loadAction('send-first-login-to-azure');
const registration = loadAction('send-registration-to-azure');

const BUDGET_MS = firstLogin.FIRST_LOGIN_POLICY.budgetMs;
const LOGIN_CEILING_MS = 1500; // what the Action may add to a login with ingest down or hanging
const SOCIAL = 'post-login/social-google';
const SOCIAL_ID = registration.registrationId(
  'acme-prod',
  'google-oauth2|102938475610293847561',
  '2026-11-26T03:18:40.004Z',
);

/** An `api` that records every property anyone touches: the Action must touch none. */
function recordingApi() {
  const touched = [];
  const api = new Proxy(
    {},
    {
      get(_target, property) {
        touched.push(String(property));
        return new Proxy(() => {}, { get: (_t, inner) => touched.push(`${String(property)}.${String(inner)}`) });
      },
    },
  );
  return { api, touched };
}

/** Run the production-policy handler once; returns its result, log lines and elapsed ms. */
async function runOnce(event, deps = {}) {
  const lines = [];
  const handler = firstLogin.createHandler({ deps: { log: (line) => lines.push(line), ...deps } });
  const { api, touched } = recordingApi();
  const started = performance.now();
  const result = await handler(event, api);
  const elapsed = performance.now() - started;
  assert.deepEqual(touched, [], 'the Action never uses api (never api.access.deny)');
  return { result, lines, elapsed };
}

test('a social user on the first login: one signed POST with source first-login', () =>
  withIngest([{ status: 202 }], async (ingest) => {
    const { result, lines } = await runOnce(loadEvent(SOCIAL, secretsFor(ingest.url)));
    assert.deepEqual(result, {
      delivered: true,
      reason: 'delivered',
      status: 202,
      registrationId: SOCIAL_ID,
      traceId: result.traceId,
    });
    assert.equal(ingest.requests.length, 1);
    const [request] = ingest.requests;
    assert.equal(request.path, '/api/registrations');
    assert.equal(request.headers['webhook-id'], SOCIAL_ID);
    assert.equal(request.headers['x-functions-key'], 'test-function-key');
    assert.match(request.headers.traceparent, new RegExp(`^00-${result.traceId}-[0-9a-f]{16}-01$`));
    const payload = new Webhook(testSecret()).verify(request.body, request.headers);
    assert.equal(payload.source, 'first-login');
    assert.deepEqual(payload.user, {
      user_id: 'google-oauth2|102938475610293847561',
      created_at: '2026-11-26T03:18:40.004Z',
      email_verified: true,
    });
    assert.deepEqual(payload.connection, { id: 'con_G00g1eOauth2Xy7Q', name: 'google-oauth2', strategy: 'google-oauth2' });
    assert.deepEqual(payload.request, { language: 'es-ES', hostname: 'acme.eu.auth0.com' });
    assert.match(lines[0], new RegExp(`^send-first-login registration_id=${SOCIAL_ID} trace_id=${result.traceId} `));
    assert.match(lines[0], / attempt=1 status=202 duration_ms=\d+ outcome=delivered$/);
  }));

test('an enterprise user, with the same SEND_FIELDS as the registration Action', () =>
  withIngest([{ status: 202 }], async (ingest) => {
    const event = loadEvent('post-login/enterprise-saml', secretsFor(ingest.url, { SEND_FIELDS: 'email,name' }));
    const { result } = await runOnce(event);
    assert.equal(result.delivered, true);
    const payload = JSON.parse(ingest.requests[0].body);
    assert.equal(payload.user.user_id, 'samlp|acme|jdoe');
    assert.equal(payload.user.email, 'john.doe@acme-corp.example');
    assert.equal(payload.user.name, 'John Doe');
    assert.equal('given_name' in payload.user, false);
    assert.equal('identities' in payload.user, false);
    assert.equal('query' in payload.request, false);
  }));

test('a database user on the first login gets the id the registration Action sent', () =>
  withIngest([{ status: 202 }], async (ingest) => {
    const event = loadEvent('post-login/database-returning', secretsFor(ingest.url));
    event.stats.logins_count = 1;
    const { result } = await runOnce(event);
    const fromRegistration = registration.registrationId('acme-prod', event.user.user_id, event.user.created_at);
    assert.equal(result.registrationId, fromRegistration);
    assert.equal(ingest.requests[0].headers['webhook-id'], fromRegistration);
  }));

test('every later login, and a refresh-token exchange, sends nothing and logs nothing', () =>
  withIngest([{ status: 202 }], async (ingest) => {
    const returning = loadEvent('post-login/database-returning', secretsFor(ingest.url));
    const refresh = loadEvent(SOCIAL, secretsFor(ingest.url));
    refresh.transaction = { protocol: 'oauth2-refresh-token' };
    const noStats = loadEvent(SOCIAL, secretsFor(ingest.url));
    delete noStats.stats;
    for (const event of [returning, refresh, noStats]) {
      const { result, lines, elapsed } = await runOnce(event);
      assert.deepEqual(result, { delivered: false, reason: 'not_first_login' });
      assert.deepEqual(lines, []);
      assert.ok(elapsed < 50, `${elapsed} ms for a login it ignores`);
    }
    assert.equal(ingest.requests.length, 0);
  }));

test('real time: a hanging ingest is cut at the budget, well under 1.5 s', () =>
  withIngest(['hang'], async (ingest) => {
    const { result, lines, elapsed } = await runOnce(loadEvent(SOCIAL, secretsFor(ingest.url)));
    assert.deepEqual(result, { ...result, delivered: false, reason: 'failed', status: null });
    assert.ok(elapsed >= BUDGET_MS - 20 && elapsed < LOGIN_CEILING_MS, `added ${elapsed} ms to the login`);
    assert.equal(ingest.requests.length, 1, 'one attempt, no retry');
    assert.match(lines[0], /attempt=1 status=timeout duration_ms=\d+ outcome=failed$/);
  }));

test('real time: a fetch that ignores the abort signal still returns at the budget', async () => {
  const neverSettles = () => new Promise(() => {});
  const event = loadEvent(SOCIAL, secretsFor('https://ingest.example/api/registrations'));
  const { result, lines, elapsed } = await runOnce(event, { fetch: neverSettles });
  assert.equal(result.reason, 'failed');
  assert.ok(elapsed >= BUDGET_MS - 20 && elapsed < LOGIN_CEILING_MS, `added ${elapsed} ms to the login`);
  assert.match(lines[0], /status=timeout/);
});

test('real time: headers then a body that never ends: the status counts, the budget holds', () =>
  withIngest(['stall'], async (ingest) => {
    const { result, elapsed } = await runOnce(loadEvent(SOCIAL, secretsFor(ingest.url)));
    assert.equal(result.delivered, true);
    assert.equal(result.status, 202);
    assert.ok(elapsed < LOGIN_CEILING_MS, `added ${elapsed} ms to the login`);
  }));

test('real time: a refused connection fails fast, with no retry', async () => {
  const { result, lines, elapsed } = await runOnce(loadEvent(SOCIAL, secretsFor(await refusedUrl())));
  assert.equal(result.reason, 'failed');
  assert.ok(elapsed < 500, `added ${elapsed} ms to the login`);
  assert.match(lines[0], /attempt=1 status=ECONNREFUSED duration_ms=\d+ outcome=failed$/);
});

test('real time: a slow ingest inside the budget delivers; one past it is cut off', () =>
  withIngest([{ status: 202, delayMs: 400 }, { status: 202, delayMs: 1400 }], async (ingest) => {
    const slow = await runOnce(loadEvent(SOCIAL, secretsFor(ingest.url)));
    assert.equal(slow.result.delivered, true);
    assert.ok(slow.elapsed >= 400 && slow.elapsed < BUDGET_MS, `took ${slow.elapsed} ms`);
    const tooSlow = await runOnce(loadEvent(SOCIAL, secretsFor(ingest.url)));
    assert.equal(tooSlow.result.reason, 'failed');
    assert.ok(tooSlow.elapsed >= BUDGET_MS - 20 && tooSlow.elapsed < LOGIN_CEILING_MS, `took ${tooSlow.elapsed} ms`);
  }));

test('an answer of 503 or 429 is one failed attempt; 400 or 401 is rejected; never retried', () =>
  withIngest(
    [
      { status: 503, headers: { 'retry-after': '0' } },
      { status: 429 },
      { status: 400, body: '{"title":"bad"}' },
      { status: 401 },
    ],
    async (ingest) => {
      const reasons = [];
      for (let index = 0; index < 4; index += 1) {
        const { result } = await runOnce(loadEvent(SOCIAL, secretsFor(ingest.url)));
        reasons.push([result.reason, result.status]);
      }
      assert.deepEqual(reasons, [
        ['failed', 503],
        ['failed', 429],
        ['rejected', 400],
        ['rejected', 401],
      ]);
      assert.equal(ingest.requests.length, 4);
    },
  ));

test('never throws: bad secrets, unusable events, a failing logger', async () => {
  const url = 'http://127.0.0.1:9/api/registrations';
  const social = () => loadEvent(SOCIAL, secretsFor(url));
  const cases = [
    [{ ...social(), secrets: {} }, 'ActionConfigError'],
    [loadEvent(SOCIAL, secretsFor(url, { INGEST_URL: 'http://func.example.net/api/registrations' })), 'ActionConfigError'],
    [loadEvent(SOCIAL, secretsFor(url, { WEBHOOK_SECRET: '##WEBHOOK_SECRET##' })), 'ActionConfigError'],
    [{ ...social(), tenant: undefined }, 'InvalidEventError'],
    [{ ...social(), user: { ...social().user, created_at: 'yesterday' } }, 'InvalidEventError'],
    [{ ...social(), user: undefined }, 'InvalidEventError'],
    [{ stats: { logins_count: 1 }, get secrets() { throw new TypeError('boom'); } }, 'error'],
  ];
  for (const [event, reason] of cases) {
    const { result, lines } = await runOnce(event);
    assert.deepEqual(result, { delivered: false, reason });
    assert.deepEqual(lines, [`send-first-login outcome=not_sent reason=${reason}`]);
  }
  for (const event of [null, undefined, 'not an event', 42]) {
    assert.deepEqual((await runOnce(event)).result, { delivered: false, reason: 'not_first_login' });
  }
  const throwingLog = () => {
    throw new Error('console is gone');
  };
  const { result } = await runOnce({ ...social(), secrets: {} }, { log: throwingLog });
  assert.deepEqual(result, { delivered: false, reason: 'ActionConfigError' });
});

test('no personal data or secret in any log line, whatever happens', () =>
  withIngest([{ status: 202 }, 'hang', { status: 400 }], async (ingest) => {
    const secrets = secretsFor(ingest.url, { SEND_FIELDS: 'all, emial' });
    const events = [loadEvent(SOCIAL, secrets), loadEvent(SOCIAL, secrets), loadEvent('post-login/enterprise-saml', secrets)];
    const lines = [];
    for (const event of events) lines.push(...(await runOnce(event)).lines);
    lines.push(...(await runOnce({ ...loadEvent(SOCIAL, secrets), tenant: {} })).lines);
    assert.ok(lines.length >= 7, lines.join('\n'));
    const forbidden = [];
    const walk = (value) => {
      if (typeof value === 'string' && value.length >= 5) forbidden.push(value.toLowerCase());
      else if (value && typeof value === 'object') Object.values(value).forEach(walk);
    };
    events.forEach((event) => [event.user, event.request, event.secrets].forEach(walk));
    for (const line of lines) {
      assert.ok(line.length <= 256, line);
      for (const text of forbidden) assert.equal(line.toLowerCase().includes(text), false, `"${text}" in: ${line}`);
    }
    assert.ok(lines.some((line) => /outcome=config_warning unknown_send_fields=emial/.test(line)));
  }));

'use strict';
/**
 * Delivery against a real local HTTP server that fails on purpose. Retry schedules in
 * seconds use a skipping clock (sleeps move `now` instead of waiting); timeouts and the
 * budget are also checked in real time with small numbers.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { Webhook } = require('standardwebhooks');

const { loadAction } = require('../scripts/build-actions.js');
const { withIngest, refusedUrl } = require('../testing/ingest-double.js');
const { skippingClock, replayRandom } = require('../testing/clock.js');
const { loadEvent, secretsFor, testSecret } = require('../testing/events.js');

const action = loadAction('send-registration-to-azure');

const DATABASE_ID = action.registrationId('acme-prod', 'auth0|6745a1f09c2b3d4e5f607182', '2026-11-26T03:12:45.118Z');

/** A handler on a skipping clock that records its log lines. */
function skippingHandler(policy = {}, random = replayRandom([0.5])) {
  const clock = skippingClock();
  const lines = [];
  const handler = action.createHandler({
    deps: { now: clock.now, sleep: clock.sleep, random, log: (line) => lines.push(line) },
    policy,
  });
  return { handler, clock, lines };
}

/** Await a DeliveryError and check the given fields of its result. */
async function rejectsWithResult(promise, expected) {
  let error;
  await assert.rejects(promise, (thrown) => {
    error = thrown;
    return true;
  });
  assert.equal(error.name, 'DeliveryError', error.message);
  for (const [key, value] of Object.entries(expected)) {
    assert.equal(error.result[key], value, `result.${key}`);
  }
  return error;
}

function verifySignature(request, secret = testSecret()) {
  return new Webhook(secret).verify(request.body, request.headers);
}

test('503 twice then 202: three signed attempts, same id, jittered backoff', () =>
  withIngest([{ status: 503 }, { status: 503 }, { status: 202 }], async (ingest) => {
    const { handler, clock, lines } = skippingHandler();
    const result = await handler(loadEvent('database', secretsFor(ingest.url)), {});
    assert.deepEqual(result, {
      delivered: true,
      reason: 'delivered',
      attempts: 3,
      status: 202,
      registrationId: DATABASE_ID,
      traceId: result.traceId,
    });
    assert.match(result.traceId, /^[0-9a-f]{32}$/);
    assert.equal(ingest.requests.length, 3);
    // Full jitter with random()=0.5: half of 250 ms, then half of 500 ms.
    assert.deepEqual(clock.sleeps, [125, 250]);
    for (const request of ingest.requests) {
      assert.equal(request.method, 'POST');
      assert.equal(request.path, '/api/registrations');
      assert.equal(request.headers['webhook-id'], DATABASE_ID);
      assert.equal(request.headers['x-functions-key'], 'test-function-key');
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(verifySignature(request).user.user_id, 'auth0|6745a1f09c2b3d4e5f607182');
      assert.equal(verifySignature(request).source, 'action');
    }
    // One trace for the execution, a new parent span id for each attempt
    const parents = ingest.requests.map((request) => request.headers.traceparent);
    for (const parent of parents) assert.match(parent, new RegExp(`^00-${result.traceId}-[0-9a-f]{16}-01$`));
    assert.equal(new Set(parents).size, 3);
    assert.deepEqual(
      lines.map((line) => line.match(/ outcome=(\w+)/)[1]),
      ['retry', 'retry', 'delivered'],
    );
  }));

test('every attempt is signed again with a fresh timestamp', () =>
  withIngest([{ status: 503, headers: { 'retry-after': '61' } }, { status: 202 }], async (ingest) => {
    const { handler } = skippingHandler({ budgetMs: 120000 });
    await handler(loadEvent('database', secretsFor(ingest.url)), {});
    const [first, second] = ingest.requests;
    const elapsed = Number(second.headers['webhook-timestamp']) - Number(first.headers['webhook-timestamp']);
    assert.ok(elapsed >= 61, `timestamps ${elapsed} s apart`);
    assert.notEqual(first.headers['webhook-signature'], second.headers['webhook-signature']);
    assert.equal(first.body, second.body);
    verifySignature(first);
    verifySignature(second);
  }));

test('429 with Retry-After in seconds waits at least that long', () =>
  withIngest([{ status: 429, headers: { 'retry-after': '3' } }, { status: 202 }], async (ingest) => {
    const { handler, clock } = skippingHandler({}, replayRandom([0.99]));
    const result = await handler(loadEvent('passwordless-sms', secretsFor(ingest.url)), {});
    assert.equal(result.attempts, 2);
    assert.deepEqual(clock.sleeps, [3000]);
  }));

test('Retry-After as an HTTP date', () => {
  const { handler, clock } = skippingHandler({}, replayRandom([0]));
  const retryAt = () => new Date(clock.now() + 5000).toUTCString();
  return withIngest(
    [() => ({ status: 503, headers: { 'retry-after': retryAt() } }), { status: 202 }],
    async (ingest) => {
      await handler(loadEvent('database', secretsFor(ingest.url)), {});
      assert.equal(clock.sleeps.length, 1);
      // HTTP dates have whole seconds: the wait is the 5 s less the truncated fraction.
      assert.ok(clock.sleeps[0] > 4000 && clock.sleeps[0] <= 5000, `slept ${clock.sleeps[0]}`);
    },
  );
});

test('a jittered delay longer than Retry-After wins', () =>
  withIngest([{ status: 503, headers: { 'retry-after': '0' } }, { status: 202 }], async (ingest) => {
    const { handler, clock } = skippingHandler({}, replayRandom([0.8]));
    await handler(loadEvent('database', secretsFor(ingest.url)), {});
    assert.deepEqual(clock.sleeps, [200]);
  }));

test('Retry-After past the budget: give up at once, never sleep past it', () =>
  withIngest([{ status: 503, headers: { 'retry-after': '30' } }], async (ingest) => {
    const { handler, clock, lines } = skippingHandler();
    await assert.rejects(handler(loadEvent('database', secretsFor(ingest.url)), {}), (error) => {
      assert.equal(error.name, 'DeliveryError');
      assert.deepEqual(error.result, {
        delivered: false,
        reason: 'budget_exhausted',
        attempts: 1,
        status: 503,
        registrationId: DATABASE_ID,
        traceId: error.result.traceId,
      });
      assert.match(error.message, new RegExp(`${DATABASE_ID} not delivered: budget_exhausted`));
      return true;
    });
    assert.deepEqual(clock.sleeps, []);
    assert.match(lines.at(-1), /outcome=gave_up reason=budget_exhausted wait_ms=30000/);
  }));

for (const status of [400, 401, 403, 404, 409, 413, 415, 422]) {
  test(`${status} is not retried`, () =>
    withIngest([{ status }, { status: 202 }], async (ingest) => {
      const { handler, clock } = skippingHandler();
      await rejectsWithResult(handler(loadEvent('database', secretsFor(ingest.url)), {}), {
        delivered: false,
        reason: 'rejected',
        attempts: 1,
        status,
        registrationId: DATABASE_ID,
      });
      assert.equal(ingest.requests.length, 1);
      assert.deepEqual(clock.sleeps, []);
    }));
}

for (const status of [408, 429, 500, 502, 503, 504]) {
  test(`${status} is retried`, () =>
    withIngest([{ status }, { status: 202 }], async (ingest) => {
      const { handler } = skippingHandler();
      const result = await handler(loadEvent('database', secretsFor(ingest.url)), {});
      assert.equal(result.attempts, 2);
    }));
}

test('a redirect is not followed (the function key stays with the ingest)', () =>
  withIngest([{ status: 202 }], (elsewhere) =>
    withIngest([{ status: 307, headers: { location: elsewhere.url } }], async (ingest) => {
      const { handler } = skippingHandler();
      await rejectsWithResult(handler(loadEvent('database', secretsFor(ingest.url)), {}), {
        reason: 'rejected',
        status: 307,
      });
      assert.equal(elsewhere.requests.length, 0);
    }),
  ));

test('connection refused is retried until the attempts run out', async () => {
  const url = await refusedUrl();
  const { handler, clock, lines } = skippingHandler({ maxAttempts: 3 });
  await rejectsWithResult(handler(loadEvent('database', secretsFor(url)), {}), {
    delivered: false,
    reason: 'attempts_exhausted',
    attempts: 3,
    status: null,
  });
  assert.equal(clock.sleeps.length, 2);
  assert.match(lines[0], /attempt=1 status=ECONNREFUSED /);
});

test('production policy against an ingest that always fails ends inside 15 s', () =>
  withIngest([{ status: 503 }], async (ingest) => {
    const { handler, clock } = skippingHandler({}, replayRandom([0.999]));
    const started = clock.now();
    await rejectsWithResult(handler(loadEvent('database', secretsFor(ingest.url)), {}), {
      reason: 'budget_exhausted',
    });
    const elapsed = clock.now() - started;
    assert.ok(elapsed <= action.DELIVERY_POLICY.budgetMs, `ran ${elapsed} ms`);
    // Near-maximal jitter: 249, 499, 999, 1998, 3996, 3996 ms, then the next wait would leave
    // less than minAttemptMs, so it stops after seven attempts and about 11.7 s of waiting.
    assert.deepEqual(clock.sleeps, [249, 499, 999, 1998, 3996, 3996]);
    assert.equal(ingest.requests.length, 7);
  }));

test('real time: a hanging ingest is cut off by the per-attempt timeout', () =>
  withIngest(['hang', { status: 202 }], async (ingest) => {
    const lines = [];
    const handler = action.createHandler({
      deps: { log: (line) => lines.push(line), random: () => 0 },
      policy: { attemptTimeoutMs: 200, budgetMs: 2000, minAttemptMs: 50 },
    });
    const started = Date.now();
    const result = await handler(loadEvent('database', secretsFor(ingest.url)), {});
    const elapsed = Date.now() - started;
    assert.equal(result.attempts, 2);
    assert.ok(elapsed >= 200 && elapsed < 1000, `took ${elapsed} ms`);
    const firstDuration = Number(lines[0].match(/duration_ms=(\d+)/)[1]);
    assert.match(lines[0], /attempt=1 status=timeout /);
    assert.ok(firstDuration >= 190 && firstDuration < 600, `first attempt ${firstDuration} ms`);
  }));

for (const [name, script] of [
  ['always hanging', ['hang']],
  ['always 503', [{ status: 503 }]],
]) {
  test(`real time: the budget is never exceeded (${name})`, () =>
    withIngest(script, async (ingest) => {
      const policy = {
        budgetMs: 700,
        attemptTimeoutMs: 250,
        minAttemptMs: 50,
        baseDelayMs: 40,
        maxDelayMs: 80,
        maxAttempts: 100,
      };
      const handler = action.createHandler({ deps: { log: () => {} }, policy });
      const started = Date.now();
      await rejectsWithResult(handler(loadEvent('database', secretsFor(ingest.url)), {}), {
        reason: 'budget_exhausted',
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed <= policy.budgetMs + 100, `took ${elapsed} ms for a ${policy.budgetMs} ms budget`);
      assert.ok(ingest.requests.length >= 2, `${ingest.requests.length} attempts`);
    }));
}

test('several whsec_ secrets (a rotation) give one signature per secret', () =>
  withIngest([{ status: 202 }], async (ingest) => {
    const secrets = secretsFor(ingest.url, { WEBHOOK_SECRET: `${testSecret('old')} ${testSecret('new')}` });
    const { handler } = skippingHandler();
    await handler(loadEvent('database', secrets), {});
    const [request] = ingest.requests;
    assert.equal(request.headers['webhook-signature'].split(' ').length, 2);
    verifySignature(request, testSecret('old'));
    verifySignature(request, testSecret('new'));
    assert.throws(() => verifySignature(request, testSecret('other')), /No matching signature/);
  }));

test('bad secrets: a clear error naming the secret, and nothing sent', () =>
  withIngest([{ status: 202 }], async (ingest) => {
    const { handler } = skippingHandler();
    const cases = [
      [{ WEBHOOK_SECRET: '', FUNCTION_KEY: ' ' }, /missing Action secret\(s\): WEBHOOK_SECRET, FUNCTION_KEY/],
      [{ INGEST_URL: 'registrations' }, /INGEST_URL is not an absolute URL/],
      [{ INGEST_URL: 'http://func.example.net/api/registrations' }, /INGEST_URL must use https/],
      [{ WEBHOOK_SECRET: 'c2VjcmV0' }, /entry 1 does not start with whsec_/],
      [{ WEBHOOK_SECRET: `${testSecret()} whsec_` }, /entry 2 is not a valid whsec_ secret/],
    ];
    for (const [override, message] of cases) {
      const event = loadEvent('database', secretsFor(ingest.url, override));
      await assert.rejects(handler(event, {}), { name: 'ActionConfigError', message });
    }
    await assert.rejects(handler({ ...loadEvent('database'), secrets: undefined }, {}), {
      name: 'ActionConfigError',
    });
    assert.equal(ingest.requests.length, 0);
  }));

test('an event without user_id is refused before any request', () =>
  withIngest([{ status: 202 }], async (ingest) => {
    const { handler, lines } = skippingHandler();
    const event = loadEvent('database', secretsFor(ingest.url));
    delete event.user.user_id;
    await assert.rejects(handler(event, {}), { name: 'InvalidEventError' });
    assert.equal(ingest.requests.length, 0);
    assert.match(lines[0], /outcome=not_sent reason=InvalidEventError/);
  }));

test('Retry-After parsing', () => {
  const now = Date.parse('2026-11-26T04:00:00Z');
  assert.equal(action.retryAfterMs(null, now), null);
  assert.equal(action.retryAfterMs('7', now), 7000);
  assert.equal(action.retryAfterMs(' 0 ', now), 0);
  assert.equal(action.retryAfterMs('Thu, 26 Nov 2026 04:00:09 GMT', now), 9000);
  assert.equal(action.retryAfterMs('Thu, 26 Nov 2026 03:59:00 GMT', now), 0);
  assert.equal(action.retryAfterMs('soon', now), null);
  assert.equal(action.retryAfterMs('-5', now), null);
});

test('backoff ceilings double from 250 ms up to 4 s', () => {
  const ceilings = [1, 2, 3, 4, 5, 6, 7].map((n) => action.backoffMs(n, action.DELIVERY_POLICY, () => 1));
  assert.deepEqual(ceilings, [250, 500, 1000, 2000, 4000, 4000, 4000]);
});

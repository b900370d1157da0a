'use strict';
/**
 * What the Action writes to the console (Auth0 keeps it for 10 days, 256 characters a line)
 * and the error messages Auth0 records: never personal data, never a secret.
 */
const test = require('node:test');
const assert = require('node:assert/strict');

const { loadAction } = require('../scripts/build-actions.js');
const { withIngest, refusedUrl } = require('../testing/ingest-double.js');
const { loadEvent, secretsFor } = require('../testing/events.js');

const action = loadAction('send-registration-to-azure');

// Timeouts generous enough for a loaded machine: the first attempt must get its 503, not time out.
const FAST = { baseDelayMs: 5, maxDelayMs: 10, attemptTimeoutMs: 600, minAttemptMs: 20, budgetMs: 3000 };
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'];

/** Run `body` with every console method captured; returns the captured lines. */
async function captureConsole(body) {
  const lines = [];
  const originals = CONSOLE_METHODS.map((name) => console[name]);
  CONSOLE_METHODS.forEach((name) => {
    console[name] = (...args) => lines.push(args.map(String).join(' '));
  });
  try {
    await body();
  } finally {
    CONSOLE_METHODS.forEach((name, index) => {
      console[name] = originals[index];
    });
  }
  return lines;
}

/** Every string in the event's user and request, and every secret: none may be logged. */
function forbiddenStrings(event) {
  const found = [];
  const walk = (value) => {
    if (typeof value === 'string') found.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(event.user);
  walk(event.request);
  walk(event.secrets);
  const emailLocalPart = event.user.email.split('@')[0];
  return [...found, emailLocalPart, event.user.phone_number.slice(1)].filter((s) => s.length >= 5);
}

async function runQuietly(handler, event) {
  try {
    return await handler(event, {});
  } catch (error) {
    return error;
  }
}

test('no personal data or secret in any log line or error, whatever happens', async () => {
  const handler = action.createHandler({ policy: FAST }); // production logger: console.log
  const events = [];
  const outcomes = [];
  const script = [
    { status: 503, headers: { 'retry-after': '0' } },
    'hang',
    { status: 202 },
    { status: 400, body: '{"title":"bad"}' },
    { status: 500, headers: { 'retry-after': '60' } },
  ];
  const lines = await withIngest(script, async (ingest) => {
    const refused = await refusedUrl(); // taken while the ingest listens, so never its port
    const piiEvent = (extraSecrets = {}, url = ingest.url) =>
      loadEvent('pii-heavy', secretsFor(url, { SEND_FIELDS: 'all, emial', ...extraSecrets }));
    return captureConsole(async () => {
      const run = async (event) => {
        events.push(event);
        outcomes.push(await runQuietly(handler, event));
      };
      await run(piiEvent()); // 503, timeout, 202
      await run(piiEvent()); // 400
      const huge = piiEvent();
      huge.user.user_metadata.notes = `${huge.user.name} `.repeat(5000);
      await run(huge); // 500, asked to wait past the budget
      await run(piiEvent({}, refused)); // connection refused
      await run(piiEvent({ FUNCTION_KEY: '' })); // configuration error
      const noTenant = piiEvent();
      delete noTenant.tenant;
      await run(noTenant); // invalid event
    });
  });
  // Then every scenario left a trace: a delivery, a rejection, the rest errors.
  assert.equal(outcomes[0].delivered, true);
  assert.deepEqual(outcomes.slice(1).map((o) => o.name), [
    'DeliveryError',
    'DeliveryError',
    'DeliveryError',
    'ActionConfigError',
    'InvalidEventError',
  ]);
  const texts = [...lines, ...outcomes.filter((o) => o instanceof Error).map((e) => `${e.message} ${e.stack}`)];
  for (const event of events) {
    for (const secret of forbiddenStrings(event)) {
      for (const text of texts) {
        assert.equal(text.toLowerCase().includes(secret.toLowerCase()), false, `"${secret}" leaked into: ${text}`);
      }
    }
  }
  for (const line of lines) {
    assert.ok(line.length <= 256, `${line.length} chars: ${line}`);
    assert.equal(line.includes('\n'), false);
  }
  // And the lines still say what happened, for one registration id.
  const joined = lines.join('\n');
  for (const expected of [
    /registration_id=reg_[0-9a-f]{32} trace_id=[0-9a-f]{32} attempt=1 status=503 duration_ms=\d+ outcome=retry wait_ms=\d+/,
    /attempt=2 status=timeout duration_ms=\d+ outcome=retry/,
    /attempt=3 status=202 duration_ms=\d+ outcome=delivered/,
    /attempt=1 status=400 duration_ms=\d+ outcome=rejected/,
    /outcome=optional_fields_dropped reason=over_64KiB/,
    /outcome=gave_up reason=budget_exhausted/,
    /status=ECONNREFUSED duration_ms=\d+ outcome=gave_up reason=attempts_exhausted/,
    /outcome=config_warning unknown_send_fields=emial/,
    /outcome=not_sent reason=ActionConfigError/,
    /outcome=not_sent reason=InvalidEventError/,
  ]) {
    assert.match(joined, expected);
  }
});

test('a log line is cut at 256 characters', () => {
  const line = action.formatLogLine({ registration_id: `reg_${'f'.repeat(32)}`, reason: 'x'.repeat(400) });
  assert.equal(line.length, 256);
  assert.ok(line.startsWith('send-registration registration_id=reg_ffff'));
});

'use strict';
/**
 * The signing and sending both Actions share: the secrets, Standard Webhooks signing, the
 * W3C `traceparent`, one POST under a hard deadline, and log lines without personal data.
 * scripts/build-actions.js inlines this module (and payload.js) into each Action's
 * deployable code.js, because Auth0 deploys one file per Action.
 *
 * Action secrets (the same names in both Actions): WEBHOOK_SECRET (whsec_..., several
 * space-separated during a rotation), INGEST_URL (https://<app>/api/registrations),
 * FUNCTION_KEY, and the optional SEND_FIELDS (which personal fields to send; none by default).
 */
const crypto = require('node:crypto');
const { Webhook } = require('standardwebhooks');

const payloads = require('./payload.js');

const MAX_LOG_LINE_CHARS = 256;
const REQUIRED_SECRETS = ['WEBHOOK_SECRET', 'INGEST_URL', 'FUNCTION_KEY'];

/** A secret is missing or malformed: nothing can be sent until an operator fixes it. */
class ActionConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ActionConfigError';
  }
}

/** Check the Action's secrets; the messages name the secret, never its value. */
function readConfig(secrets) {
  const missing = REQUIRED_SECRETS.filter((name) => !String(secrets?.[name] ?? '').trim());
  if (missing.length > 0) {
    throw new ActionConfigError(`missing Action secret(s): ${missing.join(', ')}`);
  }
  const unreplaced = [...REQUIRED_SECRETS, 'SEND_FIELDS'].filter((name) =>
    /^##\w+##$/.test(String(secrets[name] ?? '').trim()),
  );
  if (unreplaced.length > 0) {
    throw new ActionConfigError(
      `Action secret(s) still hold a deploy keyword, add them to AUTH0_KEYWORD_REPLACE_MAPPINGS: ${unreplaced.join(', ')}`,
    );
  }
  const url = ingestUrl(secrets.INGEST_URL.trim());
  const webhooks = secrets.WEBHOOK_SECRET.trim()
    .split(/\s+/)
    .map((secret, index) => signer(secret, index + 1));
  const selection = payloads.parseFieldSelection(secrets.SEND_FIELDS);
  return { url: url.href, functionKey: secrets.FUNCTION_KEY.trim(), webhooks, selection };
}

function ingestUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new ActionConfigError('INGEST_URL is not an absolute URL');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ActionConfigError('INGEST_URL must use https (plain http only for localhost)');
  }
  return url;
}

function signer(secret, position) {
  if (!secret.startsWith('whsec_')) {
    throw new ActionConfigError(`WEBHOOK_SECRET entry ${position} does not start with whsec_`);
  }
  try {
    return new Webhook(secret);
  } catch {
    throw new ActionConfigError(`WEBHOOK_SECRET entry ${position} is not a valid whsec_ secret`);
  }
}

/**
 * Secrets, body and id for one execution; throws ActionConfigError or InvalidEventError.
 * The id comes from the created_at actually sent, so it matches what the ingest computes.
 */
function prepareDelivery(event, now, source) {
  const config = readConfig(event?.secrets);
  const { payload, body, trimmed } = payloads.serializePayload(event, config.selection.fields, now, source);
  const msgId = payloads.registrationId(payload.tenant.id, payload.user.user_id, payload.user.created_at);
  return { config, msgId, body, trimmed };
}

/** Log what the operator should fix or know before sending: unknown SEND_FIELDS, trimming. */
function logPreparationWarnings(prepared, log) {
  const unknown = prepared.config.selection.unknown;
  if (unknown.length > 0) {
    const names = unknown.join(',').replace(/[^A-Za-z0-9_.,-]/g, '?');
    log({ outcome: 'config_warning', unknown_send_fields: names });
  }
  if (prepared.trimmed) log({ outcome: 'optional_fields_dropped', reason: 'over_64KiB' });
}

/** A W3C trace context for one execution: a fresh trace id, sampled (flags 01). */
function newTraceId(randomBytes = crypto.randomBytes) {
  for (;;) {
    const id = randomBytes(16).toString('hex');
    if (!/^0+$/.test(id)) return id; // all zeros is invalid in W3C trace context
  }
}

/** `traceparent` for one outgoing request of the trace: a fresh parent (span) id each time. */
function traceparent(traceId, randomBytes = crypto.randomBytes) {
  let spanId = randomBytes(8).toString('hex');
  while (/^0+$/.test(spanId)) spanId = randomBytes(8).toString('hex');
  return `00-${traceId}-${spanId}-01`;
}

/** Standard Webhooks headers for one attempt; several secrets give several signatures. */
function signedHeaders(config, msgId, timestamp, body, trace) {
  const headers = {
    'content-type': 'application/json',
    'x-functions-key': config.functionKey,
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': config.webhooks.map((wh) => wh.sign(msgId, timestamp, body)).join(' '),
  };
  if (trace) headers.traceparent = trace;
  return headers;
}

/** A short, fixed word for a failed fetch: never the message, which may carry a host. */
function networkFailure(error) {
  if (error?.name === 'TimeoutError' || error?.name === 'AbortError') return 'timeout';
  const code = error?.cause?.code ?? error?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,39}$/.test(code) ? code : 'network';
}

const EXPIRED = Symbol('expired');

/**
 * One POST that settles within `timeoutMs` whatever the network does: an AbortController
 * cancels the request (headers and body) at the deadline, and a timer race returns even if
 * the fetch ignored the abort. Resolves to {status, retryAfter} or {status: null, failure}.
 */
async function postOnce(fetchImpl, url, headers, body, timeoutMs) {
  const controller = new AbortController();
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(() => {
      resolve(EXPIRED);
      controller.abort();
    }, Math.max(1, Math.floor(timeoutMs)));
  });
  try {
    const request = Promise.resolve()
      .then(() => fetchImpl(url, { method: 'POST', headers, body, signal: controller.signal, redirect: 'manual' }));
    request.catch(() => {}); // it may reject after the race is over; that is not an error
    const response = await Promise.race([request, expired]);
    if (response === EXPIRED) return { status: null, failure: 'timeout' };
    // Drain, so the connection can be reused; a body cut short changes nothing, the status decides.
    await Promise.race([response.arrayBuffer().catch(() => {}), expired]);
    return { status: response.status, retryAfter: response.headers.get('retry-after') };
  } catch (error) {
    return { status: null, failure: networkFailure(error) };
  } finally {
    clearTimeout(timer);
    controller.abort(); // release whatever is still open; a finished exchange ignores it
  }
}

/** One log line of `key=value` pairs from code-made values only, cut to what Auth0 keeps. */
function formatLogLine(fields, label = 'send-registration') {
  const line = Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return `${label} ${line}`.slice(0, MAX_LOG_LINE_CHARS);
}

/** Production dependencies; tests replace any of them. */
function defaultDependencies() {
  return {
    fetch: (...args) => globalThis.fetch(...args),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
    log: (line) => console.log(line),
  };
}

module.exports = {
  ActionConfigError,
  defaultDependencies,
  formatLogLine,
  logPreparationWarnings,
  newTraceId,
  postOnce,
  prepareDelivery,
  readConfig,
  signedHeaders,
  traceparent,
};

'use strict';
// Built by auth0/scripts/build-actions.js from auth0/src/payload.js, auth0/src/send.js, auth0/src/post-user-registration.js.
// Do not edit: change auth0/src/ and run `node auth0/scripts/build-actions.js`.
const BUNDLED_MODULES = {
  './payload.js': function (module, exports, require) {
'use strict';
/**
 * Payload v1 from an Auth0 `event` (Auth0's own field names, personal fields opt-in through
 * SEND_FIELDS) and the message ids every path shares: a creation's id derives from tenant,
 * user id and created_at in UTC milliseconds. Inlined into each Action by
 * scripts/build-actions.js, like send.js.
 */
const crypto = require('node:crypto');

const EVENT_TYPE = 'user.registered';
const SCHEMA_VERSION = 1;
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Fields sent whatever SEND_FIELDS says: the required ones plus facts that identify nobody.
 * Everything personal is opt-in through SEND_FIELDS (comma or space separated names from
 * OPTIONAL_USER_FIELDS / OPTIONAL_REQUEST_FIELDS, or `all`, or `none`).
 */
const ALWAYS_USER_FIELDS = ['user_id', 'created_at', 'email_verified', 'phone_verified'];
const ALWAYS_REQUEST_FIELDS = ['language', 'hostname'];
const OPTIONAL_USER_FIELDS = [
  'email',
  'phone_number',
  'username',
  'name',
  'given_name',
  'family_name',
  'nickname',
  'picture',
  'user_metadata',
  'app_metadata',
];
const OPTIONAL_REQUEST_FIELDS = ['ip', 'user_agent'];
const OPTIONAL_FIELDS = [...OPTIONAL_USER_FIELDS, ...OPTIONAL_REQUEST_FIELDS];

/** The event lacks what payload v1 requires (tenant.id, user.user_id, a valid created_at). */
class InvalidEventError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

// RFC 3339 with a mandatory zone: what Auth0 sends and what the ingest accepts.
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A time as UTC truncated to milliseconds, "YYYY-MM-DDTHH:MM:SS.mmmZ", or null when `value`
 * is neither a valid Date nor an RFC 3339 string with a zone. Parsed by hand because
 * Date.parse reads a zone-less string as local time and rounds nothing the same way twice.
 */
function canonicalMs(value) {
  if (value instanceof Date) return inPythonRange(value);
  const match = typeof value === 'string' ? ISO_TIME.exec(value) : null;
  if (!match) return null;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number);
  const millis = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, millis);
  const fields = [local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate(), local.getUTCHours()];
  const valid = [year, month, day, hour].every((v, i) => v === fields[i]) && minute < 60 && second < 60;
  const offsetMinutes = zoneOffsetMinutes(match[8]);
  if (!valid || offsetMinutes === null) return null;
  return inPythonRange(new Date(local.getTime() - offsetMinutes * 60000));
}

function zoneOffsetMinutes(zone) {
  if (zone === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (hours > 23 || minutes > 59) return null;
  return (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

/** Years 1..9999 only, the range the Python side can represent. */
function inPythonRange(date) {
  const year = date.getUTCFullYear();
  return Number.isNaN(date.getTime()) || year < 1 || year > 9999 ? null : date.toISOString();
}

/** `prefix` + 32 hex of sha256(utf8(tenant) 0x00 utf8(user) 0x00 utf8(canonicalMs(at))). */
function hashedId(prefix, tenantId, userId, at) {
  const canonical = canonicalMs(at);
  if (canonical === null) throw new InvalidEventError('a message id needs an ISO 8601 time with a zone');
  const digest = crypto
    .createHash('sha256')
    .update(Buffer.from(tenantId, 'utf8'))
    .update(Buffer.from([0]))
    .update(Buffer.from(userId, 'utf8'))
    .update(Buffer.from([0]))
    .update(Buffer.from(canonical, 'utf8'))
    .digest('hex');
  return `${prefix}${digest.slice(0, 32)}`;
}

/** The creation's id: every path's copy of one signup shares it, a re-signup does not. */
function registrationId(tenantId, userId, createdAt) {
  return hashedId('reg_', tenantId, userId, createdAt);
}

/** Parse SEND_FIELDS into the set of optional fields to send, plus the names it did not know. */
function parseFieldSelection(value) {
  const names = String(value ?? '')
    .split(/[\s,]+/)
    .filter(Boolean);
  const fields = new Set();
  const unknown = [];
  for (const name of names) {
    if (name === 'all') OPTIONAL_FIELDS.forEach((field) => fields.add(field));
    else if (name === 'none') continue;
    else if (OPTIONAL_FIELDS.includes(name)) fields.add(name);
    else unknown.push(name);
  }
  return { fields, unknown };
}

function copyDefined(source, names, target) {
  for (const name of names) {
    if (source[name] !== undefined) target[name] = source[name];
  }
  return target;
}

function isoTimestamp(value) {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  if (typeof value === 'string' && value !== '') return value;
  return null;
}

function requireString(value, field) {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidEventError(`event has no ${field}; payload v1 requires it`);
  }
  return value;
}

/**
 * Build payload v1 from the Auth0 `event`: Auth0's own field names, only the selected
 * personal fields, and `source` when given. `now` stands in for a missing user.created_at
 * (the registration trigger runs right after creation), because the ingest requires one.
 */
function buildPayload(event, selectedFields, now, source) {
  const user = event.user ?? {};
  const connection = event.connection ?? {};
  requireString(user.user_id, 'user.user_id');
  const payload = { type: EVENT_TYPE, schema_version: SCHEMA_VERSION };
  if (source !== undefined) payload.source = source;
  payload.tenant = { id: requireString(event.tenant?.id, 'tenant.id') };
  payload.connection = copyDefined(connection, ['id', 'name', 'strategy'], {});
  payload.user = copyDefined(user, ALWAYS_USER_FIELDS, {});
  payload.user.created_at = isoTimestamp(user.created_at) ?? now.toISOString();
  if (canonicalMs(payload.user.created_at) === null) {
    throw new InvalidEventError('event user.created_at is not an ISO 8601 time with a zone');
  }
  copyDefined(user, OPTIONAL_USER_FIELDS.filter((f) => selectedFields.has(f)), payload.user);
  if (event.request) {
    const names = [...ALWAYS_REQUEST_FIELDS, ...OPTIONAL_REQUEST_FIELDS.filter((f) => selectedFields.has(f))];
    const request = copyDefined(event.request, names, {});
    if (Object.keys(request).length > 0) payload.request = request;
  }
  return payload;
}

/**
 * Serialize the payload; if it is over the ingest's 64 KiB limit (huge metadata), send the
 * event without any optional field rather than have the ingest refuse it with 413.
 */
function serializePayload(event, selectedFields, now, source) {
  const payload = buildPayload(event, selectedFields, now, source);
  const body = JSON.stringify(payload);
  if (Buffer.byteLength(body, 'utf8') <= MAX_BODY_BYTES) return { payload, body, trimmed: false };
  const trimmed = buildPayload(event, new Set(), now, source);
  return { payload: trimmed, body: JSON.stringify(trimmed), trimmed: true };
}

module.exports = {
  InvalidEventError,
  MAX_BODY_BYTES,
  OPTIONAL_FIELDS,
  buildPayload,
  canonicalMs,
  hashedId,
  parseFieldSelection,
  registrationId,
  serializePayload,
};
  },
  './send.js': function (module, exports, require) {
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
  },
  './post-user-registration.js': function (module, exports, require) {
'use strict';
/**
 * Auth0 Post User Registration Action: forward every new user to the Azure ingest.
 *
 * Auth0 does not wait for this trigger and never re-runs it: if the POST fails, the signup
 * reaches Azure only if this code retries (or the reconciler finds it later). So it retries
 * by itself, within a fixed budget that ends well before Auth0's 20 s execution limit
 * (arithmetic in docs/auth0-action.md):
 *
 *   attempt -> 2xx                       delivered
 *           -> 408, 429, 5xx, network    retry: full-jitter backoff, at least Retry-After
 *           -> other 4xx, 3xx            rejected, no retry (a retry would get the same answer)
 *           -> next wait ends past the budget, or too many attempts   give up
 *
 * Each attempt is a Standard Webhooks POST signed with a fresh timestamp (the ingest refuses
 * timestamps older than 5 minutes) under a deterministic `webhook-id`, the registration id,
 * so an attempt whose answer was lost is de-duplicated downstream instead of stored twice.
 * Every attempt carries a `traceparent` of the execution's one trace.
 *
 * Log lines carry no personal data: only the registration id, trace id, attempt, HTTP
 * status, timings and fixed outcome words, each line at most 256 characters.
 */
const payloads = require('./payload.js');
const send = require('./send.js');

const SOURCE = 'action';

/** How hard to try, as data. Worst case ends at budgetMs; see docs/auth0-action.md. */
const DELIVERY_POLICY = Object.freeze({
  budgetMs: 15000,
  attemptTimeoutMs: 5000,
  minAttemptMs: 1000,
  baseDelayMs: 250,
  maxDelayMs: 4000,
  maxAttempts: 8,
});

/** Every attempt failed or the ingest refused the event; `result` says how. */
class DeliveryError extends Error {
  constructor(result) {
    const status = result.status === null ? '' : ` status=${result.status}`;
    super(
      `registration ${result.registrationId} not delivered: ${result.reason}` +
        ` after ${result.attempts} attempt(s)${status}`,
    );
    this.name = 'DeliveryError';
    this.result = result;
  }
}

/** Milliseconds to wait from `Retry-After` (delta-seconds or an HTTP date), or null. */
function retryAfterMs(header, nowMs) {
  if (header === null || header === undefined) return null;
  const text = String(header).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/^[A-Za-z]{3}, /.test(text)) return null; // HTTP dates start with the day name
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Full jitter: uniform in [0, min(maxDelay, base * 2^(attempt-1))). */
function backoffMs(attempt, policy, random) {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

function isRetryableStatus(status) {
  return status === 408 || status === 429 || status >= 500;
}

/** Wait before the next attempt: the jittered backoff, but never less than Retry-After. */
function nextDelayMs(attempt, outcome, deps, policy) {
  const jittered = backoffMs(attempt, policy, deps.random);
  const serverAsked = outcome.status === null ? null : retryAfterMs(outcome.retryAfter, deps.now());
  return serverAsked === null ? jittered : Math.max(jittered, serverAsked);
}

/**
 * POST `body` until the ingest accepts it, refuses it, or the budget runs out. Never starts
 * an attempt with less than minAttemptMs left and never sleeps past the deadline.
 */
async function deliver(prepared, traceId, deps, policy) {
  const { config, msgId, body } = prepared;
  const deadline = deps.now() + policy.budgetMs;
  const log = (fields) => deps.log(send.formatLogLine({ registration_id: msgId, trace_id: traceId, ...fields }));
  const result = (delivered, reason, attempts, status) => ({
    delivered,
    reason,
    attempts,
    status,
    registrationId: msgId,
    traceId,
  });
  for (let attempt = 1; ; attempt += 1) {
    const started = deps.now();
    const timeoutMs = Math.min(policy.attemptTimeoutMs, deadline - started);
    const headers = send.signedHeaders(config, msgId, new Date(started), body, send.traceparent(traceId));
    const outcome = await send.postOnce(deps.fetch, config.url, headers, body, timeoutMs);
    const common = { attempt, status: outcome.status ?? outcome.failure, duration_ms: deps.now() - started };
    if (outcome.status !== null && outcome.status >= 200 && outcome.status < 300) {
      log({ ...common, outcome: 'delivered' });
      return result(true, 'delivered', attempt, outcome.status);
    }
    if (outcome.status !== null && !isRetryableStatus(outcome.status)) {
      log({ ...common, outcome: 'rejected' });
      return result(false, 'rejected', attempt, outcome.status);
    }
    const delayMs = nextDelayMs(attempt, outcome, deps, policy);
    if (attempt >= policy.maxAttempts) {
      log({ ...common, outcome: 'gave_up', reason: 'attempts_exhausted' });
      return result(false, 'attempts_exhausted', attempt, outcome.status);
    }
    if (deps.now() + delayMs + policy.minAttemptMs > deadline) {
      log({ ...common, outcome: 'gave_up', reason: 'budget_exhausted', wait_ms: delayMs });
      return result(false, 'budget_exhausted', attempt, outcome.status);
    }
    log({ ...common, outcome: 'retry', wait_ms: delayMs });
    await deps.sleep(delayMs);
  }
}

/**
 * Build the trigger handler. Production uses the defaults; tests inject `deps` (fetch, now,
 * sleep, random, log) and a smaller `policy`. Resolves to the delivery result; throws
 * ActionConfigError / InvalidEventError / DeliveryError so that Auth0 records a failed
 * execution (`actions_execution_failed`) naming the registration id.
 */
function createHandler({ deps = {}, policy = {} } = {}) {
  const dependencies = { ...send.defaultDependencies(), ...deps };
  const deliveryPolicy = { ...DELIVERY_POLICY, ...policy };
  const log = (fields) => dependencies.log(send.formatLogLine(fields));
  return async function onExecutePostUserRegistration(event, _api) {
    let prepared;
    try {
      prepared = send.prepareDelivery(event, new Date(dependencies.now()), SOURCE);
    } catch (error) {
      log({ outcome: 'not_sent', reason: error.name });
      throw error;
    }
    send.logPreparationWarnings(prepared, (fields) => log({ registration_id: prepared.msgId, ...fields }));
    const result = await deliver(prepared, send.newTraceId(), dependencies, deliveryPolicy);
    if (!result.delivered) throw new DeliveryError(result);
    return result;
  };
}

exports.onExecutePostUserRegistration = createHandler();

// Building blocks, exported for the tests and scripts in auth0/ (Auth0 calls only the handler).
exports.createHandler = createHandler;
exports.registrationId = payloads.registrationId;
exports.canonicalMs = payloads.canonicalMs;
exports.hashedId = payloads.hashedId;
exports.parseFieldSelection = payloads.parseFieldSelection;
exports.buildPayload = payloads.buildPayload;
exports.serializePayload = payloads.serializePayload;
exports.readConfig = send.readConfig;
exports.signedHeaders = send.signedHeaders;
exports.formatLogLine = send.formatLogLine;
exports.retryAfterMs = retryAfterMs;
exports.backoffMs = backoffMs;
exports.DELIVERY_POLICY = DELIVERY_POLICY;
exports.SOURCE = SOURCE;
exports.OPTIONAL_FIELDS = payloads.OPTIONAL_FIELDS;
exports.MAX_BODY_BYTES = payloads.MAX_BODY_BYTES;
exports.ActionConfigError = send.ActionConfigError;
exports.InvalidEventError = payloads.InvalidEventError;
exports.DeliveryError = DeliveryError;
  },
};
const bundledExports = {};
function bundledRequire(name) {
  if (!Object.prototype.hasOwnProperty.call(BUNDLED_MODULES, name)) return require(name);
  if (!bundledExports[name]) {
    const module = { exports: {} };
    bundledExports[name] = module;
    BUNDLED_MODULES[name](module, module.exports, bundledRequire);
  }
  return bundledExports[name].exports;
}
Object.assign(exports, bundledRequire('./post-user-registration.js'));

'use strict';
/**
 * Auth0 Post User Registration Action: forward every new user to the Azure ingest.
 *
 * Auth0 does not wait for this trigger and never re-runs it: if the POST fails, the signup
 * reaches Azure only if this code retries. So it retries by itself, within a fixed budget
 * that ends well before Auth0's 20 s execution limit (arithmetic in docs/auth0-action.md):
 *
 *   attempt -> 2xx                       delivered
 *           -> 408, 429, 5xx, network    retry: full-jitter backoff, at least Retry-After
 *           -> other 4xx, 3xx            rejected, no retry (a retry would get the same answer)
 *           -> next wait ends past the budget, or too many attempts   give up
 *
 * Each attempt is a Standard Webhooks POST signed with a fresh timestamp (the ingest refuses
 * timestamps older than 5 minutes) under a deterministic `webhook-id`, the registration id,
 * so an attempt whose answer was lost is de-duplicated downstream instead of stored twice.
 *
 * Action secrets: WEBHOOK_SECRET (whsec_..., several space-separated during a rotation),
 * INGEST_URL (https://<app>.azurewebsites.net/api/registrations), FUNCTION_KEY, and the
 * optional SEND_FIELDS (which personal fields to send; none by default, see FIELD_GROUPS).
 *
 * Log lines carry no personal data: only the registration id, attempt, HTTP status, timings
 * and fixed outcome words, each line at most 256 characters (what Auth0 keeps).
 */
const crypto = require('node:crypto');
const { Webhook } = require('standardwebhooks');

const EVENT_TYPE = 'user.registered';
const SCHEMA_VERSION = 1;
const MAX_BODY_BYTES = 64 * 1024;
const MAX_LOG_LINE_CHARS = 256;
const REQUIRED_SECRETS = ['WEBHOOK_SECRET', 'INGEST_URL', 'FUNCTION_KEY'];

/** How hard to try, as data. Worst case ends at budgetMs; see docs/auth0-action.md. */
const DELIVERY_POLICY = Object.freeze({
  budgetMs: 15000,
  attemptTimeoutMs: 5000,
  minAttemptMs: 1000,
  baseDelayMs: 250,
  maxDelayMs: 4000,
  maxAttempts: 8,
});

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

/** A secret is missing or malformed: nothing can be sent until an operator fixes it. */
class ActionConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ActionConfigError';
  }
}

/** The event lacks what payload v1 requires (tenant.id, user.user_id). */
class InvalidEventError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

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

/** `reg_` + the first 32 hex digits of sha256(utf8(tenant) 0x00 utf8(user)): the team's id. */
function registrationId(tenantId, userId) {
  const digest = crypto
    .createHash('sha256')
    .update(Buffer.from(tenantId, 'utf8'))
    .update(Buffer.from([0]))
    .update(Buffer.from(userId, 'utf8'))
    .digest('hex');
  return `reg_${digest.slice(0, 32)}`;
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
 * personal fields. `now` stands in for a missing user.created_at (the trigger runs right
 * after creation), because the ingest requires one.
 */
function buildPayload(event, selectedFields, now) {
  const user = event.user ?? {};
  const connection = event.connection ?? {};
  requireString(user.user_id, 'user.user_id');
  const payload = {
    type: EVENT_TYPE,
    schema_version: SCHEMA_VERSION,
    tenant: { id: requireString(event.tenant?.id, 'tenant.id') },
    connection: copyDefined(connection, ['id', 'name', 'strategy'], {}),
    user: copyDefined(user, ALWAYS_USER_FIELDS, {}),
  };
  payload.user.created_at = isoTimestamp(user.created_at) ?? now.toISOString();
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
function serializePayload(event, selectedFields, now) {
  const body = JSON.stringify(buildPayload(event, selectedFields, now));
  if (Buffer.byteLength(body, 'utf8') <= MAX_BODY_BYTES) return { body, trimmed: false };
  return { body: JSON.stringify(buildPayload(event, new Set(), now)), trimmed: true };
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
  let url;
  try {
    url = new URL(secrets.INGEST_URL.trim());
  } catch {
    throw new ActionConfigError('INGEST_URL is not an absolute URL');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ActionConfigError('INGEST_URL must use https (plain http only for localhost)');
  }
  const signingSecrets = secrets.WEBHOOK_SECRET.trim().split(/\s+/);
  const webhooks = signingSecrets.map((secret, index) => {
    if (!secret.startsWith('whsec_')) {
      throw new ActionConfigError(`WEBHOOK_SECRET entry ${index + 1} does not start with whsec_`);
    }
    try {
      return new Webhook(secret);
    } catch {
      throw new ActionConfigError(`WEBHOOK_SECRET entry ${index + 1} is not a valid whsec_ secret`);
    }
  });
  const selection = parseFieldSelection(secrets.SEND_FIELDS);
  return { url: url.href, functionKey: secrets.FUNCTION_KEY.trim(), webhooks, selection };
}

/** Standard Webhooks headers for one attempt; several secrets give several signatures. */
function signedHeaders(config, msgId, timestamp, body) {
  return {
    'content-type': 'application/json',
    'x-functions-key': config.functionKey,
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': config.webhooks.map((wh) => wh.sign(msgId, timestamp, body)).join(' '),
  };
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

/** A short, fixed word for a failed fetch: never the message, which may carry a host. */
function networkFailure(error) {
  if (error?.name === 'TimeoutError' || error?.name === 'AbortError') return 'timeout';
  const code = error?.cause?.code ?? error?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,39}$/.test(code) ? code : 'network';
}

/** One POST under its own timeout. Resolves to {status, retryAfter} or {status: null, failure}. */
async function postOnce(fetchImpl, url, headers, body, timeoutMs) {
  const signal = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
  let response;
  try {
    response = await fetchImpl(url, { method: 'POST', headers, body, signal, redirect: 'manual' });
  } catch (error) {
    return { status: null, failure: networkFailure(error) };
  }
  try {
    await response.arrayBuffer(); // drain, so the connection can be reused
  } catch {
    // The status already decides the outcome; a body cut short by the timeout changes nothing.
  }
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
}

/** One log line of `key=value` pairs from code-made values only, cut to what Auth0 keeps. */
function formatLogLine(fields) {
  const line = Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  return `send-registration ${line}`.slice(0, MAX_LOG_LINE_CHARS);
}

function defaultDependencies() {
  return {
    fetch: (...args) => globalThis.fetch(...args),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
    log: (line) => console.log(line),
  };
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
async function deliver(config, msgId, body, deps, policy) {
  const deadline = deps.now() + policy.budgetMs;
  const log = (fields) => deps.log(formatLogLine({ registration_id: msgId, ...fields }));
  const result = (delivered, reason, attempts, status) => ({
    delivered,
    reason,
    attempts,
    status,
    registrationId: msgId,
  });
  for (let attempt = 1; ; attempt += 1) {
    const started = deps.now();
    const timeoutMs = Math.min(policy.attemptTimeoutMs, deadline - started);
    const headers = signedHeaders(config, msgId, new Date(started), body);
    const outcome = await postOnce(deps.fetch, config.url, headers, body, timeoutMs);
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
  const dependencies = { ...defaultDependencies(), ...deps };
  const deliveryPolicy = { ...DELIVERY_POLICY, ...policy };
  const log = (fields) => dependencies.log(formatLogLine(fields));
  return async function onExecutePostUserRegistration(event, _api) {
    let prepared;
    try {
      prepared = prepare(event, new Date(dependencies.now()));
    } catch (error) {
      log({ outcome: 'not_sent', reason: error.name });
      throw error;
    }
    const { config, msgId, body, trimmed } = prepared;
    if (config.selection.unknown.length > 0) {
      const names = config.selection.unknown.join(',').replace(/[^A-Za-z0-9_.,-]/g, '?');
      log({ registration_id: msgId, outcome: 'config_warning', unknown_send_fields: names });
    }
    if (trimmed) log({ registration_id: msgId, outcome: 'optional_fields_dropped', reason: 'over_64KiB' });
    const result = await deliver(config, msgId, body, dependencies, deliveryPolicy);
    if (!result.delivered) throw new DeliveryError(result);
    return result;
  };
}

/** Secrets, body and id for one execution; throws ActionConfigError or InvalidEventError. */
function prepare(event, now) {
  const config = readConfig(event?.secrets);
  const { body, trimmed } = serializePayload(event, config.selection.fields, now);
  const msgId = registrationId(event.tenant.id, event.user.user_id);
  return { config, msgId, body, trimmed };
}

exports.onExecutePostUserRegistration = createHandler();

// Building blocks, exported for the tests and scripts in auth0/ (Auth0 calls only the handler).
exports.createHandler = createHandler;
exports.registrationId = registrationId;
exports.parseFieldSelection = parseFieldSelection;
exports.buildPayload = buildPayload;
exports.serializePayload = serializePayload;
exports.readConfig = readConfig;
exports.signedHeaders = signedHeaders;
exports.retryAfterMs = retryAfterMs;
exports.backoffMs = backoffMs;
exports.formatLogLine = formatLogLine;
exports.DELIVERY_POLICY = DELIVERY_POLICY;
exports.OPTIONAL_FIELDS = OPTIONAL_FIELDS;
exports.MAX_BODY_BYTES = MAX_BODY_BYTES;
exports.ActionConfigError = ActionConfigError;
exports.InvalidEventError = InvalidEventError;
exports.DeliveryError = DeliveryError;

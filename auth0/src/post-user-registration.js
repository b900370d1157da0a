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

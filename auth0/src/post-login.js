'use strict';
/**
 * Auth0 post-login Action: send each user to the Azure ingest on their FIRST login.
 *
 * The Post User Registration trigger fires only for Database and Passwordless connections;
 * social, enterprise and every other user are first seen here, at the login that follows
 * their creation (`event.stats.logins_count === 1`: Auth0 counts the login before Actions
 * run). Database and passwordless users are sent again: same tenant, user and created_at,
 * so the same message id, and the copy is absorbed downstream.
 *
 * Post-login blocks the login, so this Action makes ONE attempt under a hard budget of
 * budgetMs (about 1 s), never calls api.access.deny, never throws, and logs no personal
 * data. A login whose send fails is not retried here: the reconciler, which walks Auth0's
 * users on a schedule, is this path's retry (docs/auth0-action.md).
 */
const send = require('./send.js');

const SOURCE = 'first-login';
const LOG_LABEL = 'send-first-login';

/** The whole time this Action may add to a login, from the handler's start to its return. */
const FIRST_LOGIN_POLICY = Object.freeze({ budgetMs: 1000 });

/** First interactive login only; a refresh-token exchange repeats the count of the last one. */
function isFirstLogin(event) {
  return event?.stats?.logins_count === 1 && event?.transaction?.protocol !== 'oauth2-refresh-token';
}

/** A fixed word for a thrown error: its class name when it is one of ours, else `error`. */
function errorWord(error) {
  return ['ActionConfigError', 'InvalidEventError'].includes(error?.name) ? error.name : 'error';
}

/** Map one attempt's outcome to the result; 2xx delivered, any other 4xx/3xx rejected. */
function classify(outcome) {
  if (outcome.status === null) return 'failed';
  if (outcome.status >= 200 && outcome.status < 300) return 'delivered';
  const retryable = outcome.status === 408 || outcome.status === 429 || outcome.status >= 500;
  return retryable ? 'failed' : 'rejected';
}

async function sendOnce(event, deps, policy, startedMs, log) {
  const prepared = send.prepareDelivery(event, new Date(startedMs), SOURCE);
  const { config, msgId, body } = prepared;
  const traceId = send.newTraceId();
  const withIds = (fields) => log({ registration_id: msgId, trace_id: traceId, ...fields });
  send.logPreparationWarnings(prepared, withIds);
  const attemptStarted = deps.now();
  const headers = send.signedHeaders(config, msgId, new Date(attemptStarted), body, send.traceparent(traceId));
  const timeoutMs = policy.budgetMs - (attemptStarted - startedMs);
  const outcome = await send.postOnce(deps.fetch, config.url, headers, body, timeoutMs);
  const reason = classify(outcome);
  const status = outcome.status ?? outcome.failure;
  withIds({ attempt: 1, status, duration_ms: deps.now() - attemptStarted, outcome: reason });
  return { delivered: reason === 'delivered', reason, status: outcome.status, registrationId: msgId, traceId };
}

/**
 * Build the trigger handler. Production uses the defaults; tests inject `deps` (fetch, now,
 * log) and `policy`. Always resolves, to a result object that Auth0 ignores and tests read:
 * {delivered, reason, status, registrationId, traceId}, or {delivered: false, reason} when
 * nothing was sent (not a first login, a configuration error, an unusable event).
 */
function createHandler({ deps = {}, policy = {} } = {}) {
  const dependencies = { ...send.defaultDependencies(), ...deps };
  const firstLoginPolicy = { ...FIRST_LOGIN_POLICY, ...policy };
  const log = (fields) => {
    try {
      dependencies.log(send.formatLogLine(fields, LOG_LABEL));
    } catch {
      // A failing logger must not fail the login.
    }
  };
  return async function onExecutePostLogin(event, _api) {
    const startedMs = dependencies.now();
    try {
      if (!isFirstLogin(event)) return { delivered: false, reason: 'not_first_login' };
      return await sendOnce(event, dependencies, firstLoginPolicy, startedMs, log);
    } catch (error) {
      const reason = errorWord(error);
      log({ outcome: 'not_sent', reason });
      return { delivered: false, reason };
    }
  };
}

exports.onExecutePostLogin = createHandler();

// Building blocks, exported for the tests and scripts in auth0/ (Auth0 calls only the handler).
exports.createHandler = createHandler;
exports.isFirstLogin = isFirstLogin;
exports.FIRST_LOGIN_POLICY = FIRST_LOGIN_POLICY;
exports.SOURCE = SOURCE;

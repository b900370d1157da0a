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

'use strict';
/** Realistic Auth0 post-user-registration `event` objects, plus secrets for a given ingest. */
const fs = require('node:fs');
const path = require('node:path');

const EVENTS_DIR = path.join(__dirname, 'events');
const EVENT_NAMES = fs
  .readdirSync(EVENTS_DIR)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => name.slice(0, -'.json'.length));

/** A fresh copy of the named event (testing/events/<name>.json), with `secrets` merged in. */
function loadEvent(name, secrets = {}) {
  const event = JSON.parse(fs.readFileSync(path.join(EVENTS_DIR, `${name}.json`), 'utf8'));
  return { ...event, secrets: { ...secrets } };
}

/** A valid whsec_ secret derived from a label, so tests are reproducible. */
function testSecret(label = 'test') {
  const key = require('node:crypto').createHash('sha256').update(label).digest();
  return `whsec_${key.toString('base64')}`;
}

function secretsFor(url, extra = {}) {
  return {
    WEBHOOK_SECRET: testSecret(),
    INGEST_URL: url,
    FUNCTION_KEY: 'test-function-key',
    ...extra,
  };
}

module.exports = { loadEvent, secretsFor, testSecret, EVENT_NAMES };

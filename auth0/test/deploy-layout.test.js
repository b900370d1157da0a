'use strict';
/**
 * The auth0-deploy-cli directory layout under auth0/tenant: what `a0deploy import` reads.
 * Keyword replacement is replayed here the way the Deploy CLI does it (`##KEY##` literal).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');

const TENANT_DIR = path.join(__dirname, '..', 'tenant');
const ACTION_NAME = 'send-registration-to-azure';
const ACTION_JSON = path.join(TENANT_DIR, 'actions', `${ACTION_NAME}.json`);
const packageJson = require('../package.json');
const action = require('../tenant/actions/send-registration-to-azure/code.js');
const { testSecret } = require('../testing/events.js');

const MAPPINGS = {
  WEBHOOK_SECRET: testSecret('deploy-layout'),
  INGEST_URL: 'https://func-signups.azurewebsites.net/api/registrations',
  FUNCTION_KEY: 'function-key-for-tests',
  SEND_FIELDS: 'email,phone_number',
};

/** The Deploy CLI's `##KEY##` replacement: the value is inserted literally. */
function replaceKeywords(text, mappings) {
  return Object.entries(mappings).reduce(
    (result, [key, value]) => result.split(`##${key}##`).join(value),
    text,
  );
}

function loadActionDefinition(mappings = MAPPINGS) {
  return JSON.parse(replaceKeywords(fs.readFileSync(ACTION_JSON, 'utf8'), mappings));
}

test('the action definition is what the Deploy CLI expects', () => {
  const definition = loadActionDefinition();
  assert.equal(definition.name, ACTION_NAME);
  assert.equal(definition.runtime, 'node22');
  assert.equal(definition.deployed, true);
  assert.deepEqual(definition.supported_triggers, [{ id: 'post-user-registration', version: 'v2' }]);
  // The Deploy CLI resolves `code` against actions/<name>/.
  const codePath = path.resolve(TENANT_DIR, 'actions', definition.name, definition.code);
  assert.equal(codePath, require.resolve('../tenant/actions/send-registration-to-azure/code.js'));
});

test('every secret comes from a keyword; nothing secret is committed', () => {
  const raw = JSON.parse(fs.readFileSync(ACTION_JSON, 'utf8'));
  assert.deepEqual(
    raw.secrets.map((secret) => [secret.name, secret.value]),
    Object.keys(MAPPINGS).map((name) => [name, `##${name}##`]),
  );
  const definition = loadActionDefinition();
  assert.deepEqual(Object.fromEntries(definition.secrets.map((s) => [s.name, s.value])), MAPPINGS);
});

test('the deployed secrets are accepted by the Action', () => {
  const secrets = Object.fromEntries(loadActionDefinition().secrets.map((s) => [s.name, s.value]));
  const config = action.readConfig(secrets);
  assert.equal(config.url, MAPPINGS.INGEST_URL);
  assert.deepEqual([...config.selection.fields], ['email', 'phone_number']);
});

test('a keyword left unreplaced is a clear configuration error', () => {
  const { SEND_FIELDS, ...partial } = MAPPINGS;
  const secrets = Object.fromEntries(loadActionDefinition(partial).secrets.map((s) => [s.name, s.value]));
  assert.equal(secrets.SEND_FIELDS, '##SEND_FIELDS##');
  assert.throws(() => action.readConfig(secrets), {
    name: 'ActionConfigError',
    message: /still hold a deploy keyword.*: SEND_FIELDS$/,
  });
});

test('the npm dependency pinned for Auth0 is the one the tests run against', () => {
  const definition = loadActionDefinition();
  assert.deepEqual(definition.dependencies, [
    { name: 'standardwebhooks', version: packageJson.dependencies.standardwebhooks },
  ]);
  assert.match(packageJson.dependencies.standardwebhooks, /^\d+\.\d+\.\d+$/, 'an exact version');
  assert.equal(require('standardwebhooks/package.json').version, packageJson.dependencies.standardwebhooks);
});

test('the code needs only Node built-ins and the declared dependency, within Auth0 limits', () => {
  const code = fs.readFileSync(require.resolve('../tenant/actions/send-registration-to-azure/code.js'), 'utf8');
  const required = [...code.matchAll(/require\('([^']+)'\)/g)].map((match) => match[1]);
  const declared = loadActionDefinition().dependencies.map((dependency) => dependency.name);
  for (const name of required) {
    const builtin = builtinModules.includes(name.replace(/^node:/, ''));
    assert.ok(builtin || declared.includes(name), `${name} is neither built in nor declared`);
  }
  assert.ok(declared.length <= 10, 'Auth0 allows 10 npm modules per Action');
  assert.ok(Buffer.byteLength(code) < 100 * 1024, 'Auth0 allows 100 kB of code per Action');
});

test('the trigger binding names the action', () => {
  const triggers = JSON.parse(fs.readFileSync(path.join(TENANT_DIR, 'triggers', 'triggers.json'), 'utf8'));
  assert.deepEqual(Object.keys(triggers), ['post-user-registration']);
  assert.deepEqual(triggers['post-user-registration'].map((b) => b.action_name), [ACTION_NAME]);
});

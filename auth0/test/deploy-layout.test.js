'use strict';
/**
 * The auth0-deploy-cli directory layout under auth0/tenant: what `a0deploy import` reads.
 * Keyword replacement is replayed here the way the Deploy CLI does it (`##KEY##` literal).
 * The code.js bundles are build outputs: the build must be deterministic and each bundle
 * self-contained, since Auth0 gets that one file and the declared npm dependency.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { builtinModules } = require('node:module');

const TENANT_DIR = path.join(__dirname, '..', 'tenant');
const packageJson = require('../package.json');
const build = require('../scripts/build-actions.js');
const { testSecret } = require('../testing/events.js');

// The bundles are build outputs (not in git): the checks below read what the sources build now.
build.buildActions();

/** Each Action as deployed, and the trigger Auth0 binds it to. */
const ACTIONS = [
  { name: 'send-registration-to-azure', trigger: { id: 'post-user-registration', version: 'v2' } },
  { name: 'send-first-login-to-azure', trigger: { id: 'post-login', version: 'v3' } },
];
const SECRET_NAMES = ['WEBHOOK_SECRET', 'INGEST_URL', 'FUNCTION_KEY', 'SEND_FIELDS'];

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

const definitionPath = (name) => path.join(TENANT_DIR, 'actions', `${name}.json`);
const codePath = (name) => path.join(TENANT_DIR, 'actions', name, 'code.js');

function loadActionDefinition(name, mappings = MAPPINGS) {
  return JSON.parse(replaceKeywords(fs.readFileSync(definitionPath(name), 'utf8'), mappings));
}

/** Run `body` with a fresh temporary directory, removed afterwards. */
function withTemporaryDir(prefix, body) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the build is deterministic: two builds are byte for byte the same, in the deploy layout', () => {
  assert.deepEqual(build.ACTIONS.map((a) => a.name), ACTIONS.map((a) => a.name));
  withTemporaryDir('auth0-build-a-', (first) =>
    withTemporaryDir('auth0-build-b-', (second) => {
      const firstBundles = build.buildActions(first);
      const secondBundles = build.buildActions(second);
      assert.deepEqual(
        firstBundles.map((file) => path.relative(first, file)),
        ACTIONS.map(({ name }) => path.join('actions', name, 'code.js')),
      );
      for (const [index, action] of build.ACTIONS.entries()) {
        const bytes = fs.readFileSync(firstBundles[index]);
        assert.ok(bytes.equals(fs.readFileSync(secondBundles[index])), `${action.name} differs between builds`);
        assert.equal(bytes.toString('utf8'), build.renderBundle(action));
        assert.equal(fs.readFileSync(codePath(action.name), 'utf8'), build.renderBundle(action), 'tenant/ is built');
      }
    }),
  );
});

test('a changed shared source changes both bundles', () => {
  withTemporaryDir('auth0-src-', (srcDir) => {
    // Given a copy of auth0/src with one line added to the shared module
    fs.cpSync(path.join(__dirname, '..', 'src'), srcDir, { recursive: true });
    fs.appendFileSync(path.join(srcDir, 'send.js'), '// one more line\n');
    // Then both Actions build differently from it
    for (const action of build.ACTIONS) {
      assert.notEqual(build.renderBundle(action, srcDir), build.renderBundle(action), action.name);
      assert.ok(build.renderBundle(action, srcDir).includes('// one more line\n  },'), action.name);
    }
  });
});

test('both bundles carry the shared modules, byte for byte', () => {
  for (const shared of ['send.js', 'payload.js']) {
    const source = fs.readFileSync(path.join(__dirname, '..', 'src', shared), 'utf8').trimEnd();
    for (const { name } of ACTIONS) {
      const code = fs.readFileSync(codePath(name), 'utf8');
      assert.ok(code.includes(`  './${shared}': function (module, exports, require) {\n${source}\n  },`), `${shared} in ${name}`);
    }
  }
});

for (const { name, trigger } of ACTIONS) {
  test(`${name}: the definition is what the Deploy CLI expects`, () => {
    const definition = loadActionDefinition(name);
    assert.equal(definition.name, name);
    assert.equal(definition.runtime, 'node22');
    assert.equal(definition.deployed, true);
    assert.deepEqual(definition.supported_triggers, [trigger]);
    // The Deploy CLI resolves `code` against actions/<name>/.
    assert.equal(path.resolve(TENANT_DIR, 'actions', definition.name, definition.code), codePath(name));
  });

  test(`${name}: every secret comes from a keyword; nothing secret is committed`, () => {
    const raw = JSON.parse(fs.readFileSync(definitionPath(name), 'utf8'));
    assert.deepEqual(
      raw.secrets.map((secret) => [secret.name, secret.value]),
      SECRET_NAMES.map((secretName) => [secretName, `##${secretName}##`]),
    );
    const definition = loadActionDefinition(name);
    assert.deepEqual(Object.fromEntries(definition.secrets.map((s) => [s.name, s.value])), MAPPINGS);
  });

  test(`${name}: the npm dependency pinned for Auth0 is the one the tests run against`, () => {
    const definition = loadActionDefinition(name);
    assert.deepEqual(definition.dependencies, [
      { name: 'standardwebhooks', version: packageJson.dependencies.standardwebhooks },
    ]);
    assert.match(packageJson.dependencies.standardwebhooks, /^\d+\.\d+\.\d+$/, 'an exact version');
    assert.equal(require('standardwebhooks/package.json').version, packageJson.dependencies.standardwebhooks);
  });

  test(`${name}: the code needs only Node built-ins, the declared dependency and bundled modules`, () => {
    const code = fs.readFileSync(codePath(name), 'utf8');
    const bundled = [...code.matchAll(/^ {2}'(\.\/[^']+)': function \(module, exports, require\) \{$/gm)].map(
      (match) => match[1],
    );
    assert.ok(bundled.includes('./send.js'), 'the shared module is inlined');
    const required = [...code.matchAll(/require\('([^']+)'\)/g)].map((match) => match[1]);
    const declared = loadActionDefinition(name).dependencies.map((dependency) => dependency.name);
    for (const module of required) {
      const builtin = builtinModules.includes(module.replace(/^node:/, ''));
      assert.ok(builtin || declared.includes(module) || bundled.includes(module), `${module} is not available`);
    }
    assert.ok(declared.length <= 10, 'Auth0 allows 10 npm modules per Action');
    assert.ok(Buffer.byteLength(code) < 100 * 1024, 'Auth0 allows 100 kB of code per Action');
  });

  test(`${name}: the deployed secrets are accepted by the Action`, () => {
    const { readConfig } = build.loadAction('send-registration-to-azure');
    const secrets = Object.fromEntries(loadActionDefinition(name).secrets.map((s) => [s.name, s.value]));
    const config = readConfig(secrets);
    assert.equal(config.url, MAPPINGS.INGEST_URL);
    assert.deepEqual([...config.selection.fields], ['email', 'phone_number']);
  });
}

test('a keyword left unreplaced is a clear configuration error', () => {
  const { readConfig } = build.loadAction('send-registration-to-azure');
  const { SEND_FIELDS, ...partial } = MAPPINGS;
  const definition = loadActionDefinition('send-first-login-to-azure', partial);
  const secrets = Object.fromEntries(definition.secrets.map((s) => [s.name, s.value]));
  assert.equal(secrets.SEND_FIELDS, '##SEND_FIELDS##');
  assert.throws(() => readConfig(secrets), {
    name: 'ActionConfigError',
    message: /still hold a deploy keyword.*: SEND_FIELDS$/,
  });
});

test('the trigger bindings name each action under its trigger', () => {
  const triggers = JSON.parse(fs.readFileSync(path.join(TENANT_DIR, 'triggers', 'triggers.json'), 'utf8'));
  assert.deepEqual(Object.keys(triggers).sort(), ACTIONS.map((a) => a.trigger.id).sort());
  for (const { name, trigger } of ACTIONS) {
    assert.deepEqual(triggers[trigger.id], [{ action_name: name, display_name: name }]);
  }
});

test('the handlers Auth0 calls are exported under the names it looks for', () => {
  const registration = build.loadAction('send-registration-to-azure');
  const firstLogin = build.loadAction('send-first-login-to-azure');
  assert.equal(typeof registration.onExecutePostUserRegistration, 'function');
  assert.equal(typeof firstLogin.onExecutePostLogin, 'function');
});

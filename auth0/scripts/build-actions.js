#!/usr/bin/env node
'use strict';
/**
 * Build each Action's deployable code.js from auth0/src/. Auth0 deploys one file per Action
 * (plus npm dependencies), so the modules an Action requires with a relative path
 * (`require('./send.js')`) are inlined into that file, each wrapped in a CommonJS-style
 * function; npm and node: requires are left to Auth0's runtime. No bundler: the output is a
 * plain, deterministic concatenation of the sources, readable in the Auth0 editor.
 *
 * The bundles are build outputs, not tracked by git: src/ is the one source of truth, and
 * whatever runs an Action (the tests, run-action.js, generate-vectors.js) loads it through
 * loadAction(), which builds first.
 *
 *   node auth0/scripts/build-actions.js   # writes every tenant/actions/<name>/code.js
 *   make actions; cd auth0 && npm run build  # the same
 */
const fs = require('node:fs');
const path = require('node:path');

const AUTH0_DIR = path.join(__dirname, '..');
const SRC_DIR = path.join(AUTH0_DIR, 'src');
const TENANT_DIR = path.join(AUTH0_DIR, 'tenant');

/** Each deployable Action: its name in tenant/actions/ and its entry module in src/. */
const ACTIONS = Object.freeze([
  { name: 'send-registration-to-azure', entry: 'post-user-registration.js' },
  { name: 'send-first-login-to-azure', entry: 'post-login.js' },
]);

const LOCAL_REQUIRE = /require\('(\.\/[A-Za-z0-9_-]+\.js)'\)/g;

function bundlePath(action, tenantDir = TENANT_DIR) {
  return path.join(tenantDir, 'actions', action.name, 'code.js');
}

/** The entry and every module of `srcDir` it reaches through relative requires, entry last. */
function modulesOf(entry, srcDir = SRC_DIR) {
  const ordered = [];
  const visit = (name, trail) => {
    if (trail.includes(name)) throw new Error(`circular require: ${[...trail, name].join(' -> ')}`);
    if (ordered.some((module) => module.name === name)) return;
    const source = fs.readFileSync(path.join(srcDir, name), 'utf8');
    for (const [, dependency] of source.matchAll(LOCAL_REQUIRE)) visit(dependency.slice(2), [...trail, name]);
    ordered.push({ name, source });
  };
  visit(entry, []);
  return ordered;
}

function wrapModule({ name, source }) {
  return [
    `  './${name}': function (module, exports, require) {`,
    source.trimEnd(),
    `  },`,
  ].join('\n');
}

/** The deployable text of one Action: the same sources always give the same bytes. */
function renderBundle(action, srcDir = SRC_DIR) {
  const modules = modulesOf(action.entry, srcDir);
  return `'use strict';
// Built by auth0/scripts/build-actions.js from ${modules.map((m) => `auth0/src/${m.name}`).join(', ')}.
// Do not edit: change auth0/src/ and run \`make actions\` (or \`node auth0/scripts/build-actions.js\`).
const BUNDLED_MODULES = {
${modules.map(wrapModule).join('\n')}
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
Object.assign(exports, bundledRequire('./${action.entry}'));
`;
}

/**
 * Write `text` to `file` unless it already holds it. The new text goes to a temporary file
 * that is renamed over the old one, so a test file or run-action.js loading the bundle while
 * another process builds never reads half a file.
 */
function writeIfChanged(file, text) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, text);
  fs.renameSync(partial, file);
}

/** Build every Action from `srcDir` into `tenantDir`; returns the bundles' paths. */
function buildActions(tenantDir = TENANT_DIR, srcDir = SRC_DIR) {
  return ACTIONS.map((action) => {
    const file = bundlePath(action, tenantDir);
    writeIfChanged(file, renderBundle(action, srcDir));
    return file;
  });
}

/** Build the Actions from src/ and load the named one, so no caller runs an older build. */
function loadAction(name) {
  const action = ACTIONS.find((candidate) => candidate.name === name);
  if (!action) throw new Error(`no Action named ${name}`);
  buildActions();
  return require(bundlePath(action));
}

function main() {
  for (const file of buildActions()) console.log(`built ${path.relative(process.cwd(), file)}`);
}

if (require.main === module) main();

module.exports = { ACTIONS, bundlePath, buildActions, loadAction, modulesOf, renderBundle };

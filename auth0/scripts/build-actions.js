#!/usr/bin/env node
'use strict';
/**
 * Build each Action's deployable code.js from auth0/src/. Auth0 deploys one file per Action
 * (plus npm dependencies), so the modules an Action requires with a relative path
 * (`require('./send.js')`) are inlined into that file, each wrapped in a CommonJS-style
 * function; npm and node: requires are left to Auth0's runtime. No bundler: the output is a
 * plain, deterministic concatenation of the sources, readable in the Auth0 editor.
 *
 *   node auth0/scripts/build-actions.js          # rewrite every tenant/actions/<name>/code.js
 *   node auth0/scripts/build-actions.js --check  # exit 1 if a committed bundle is stale
 */
const fs = require('node:fs');
const path = require('node:path');

const AUTH0_DIR = path.join(__dirname, '..');
const SRC_DIR = path.join(AUTH0_DIR, 'src');

/** Each deployable Action: its name in tenant/actions/ and its entry module in src/. */
const ACTIONS = Object.freeze([
  { name: 'send-registration-to-azure', entry: 'post-user-registration.js' },
  { name: 'send-first-login-to-azure', entry: 'post-login.js' },
]);

const LOCAL_REQUIRE = /require\('(\.\/[A-Za-z0-9_-]+\.js)'\)/g;

function bundlePath(action) {
  return path.join(AUTH0_DIR, 'tenant', 'actions', action.name, 'code.js');
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
// Do not edit: change auth0/src/ and run \`node auth0/scripts/build-actions.js\`.
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

/** The Actions whose committed code.js differs from what the sources in `srcDir` build. */
function staleActions(srcDir = SRC_DIR) {
  return ACTIONS.filter((action) => {
    const file = bundlePath(action);
    return !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== renderBundle(action, srcDir);
  });
}

function main(argv) {
  if (argv.includes('--check')) {
    const stale = staleActions();
    for (const action of stale) {
      console.error(`${bundlePath(action)} is stale: run node auth0/scripts/build-actions.js`);
    }
    return stale.length === 0 ? 0 : 1;
  }
  for (const action of ACTIONS) {
    fs.mkdirSync(path.dirname(bundlePath(action)), { recursive: true });
    fs.writeFileSync(bundlePath(action), renderBundle(action));
    console.log(`wrote ${path.relative(process.cwd(), bundlePath(action))}`);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

module.exports = { ACTIONS, bundlePath, modulesOf, renderBundle, staleActions };

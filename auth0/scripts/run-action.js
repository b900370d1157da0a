#!/usr/bin/env node
'use strict';
/**
 * Run an Action's handler in plain Node, outside Auth0, against a real ingest.
 *
 *   WEBHOOK_SECRET=whsec_... INGEST_URL=http://127.0.0.1:7071/api/registrations \
 *   FUNCTION_KEY=... [SEND_FIELDS=email,phone_number] \
 *     node auth0/scripts/run-action.js [--trigger post-login [--budget-ms N]] EVENT.json  # '-': stdin
 *
 * --trigger post-user-registration (the default) runs send-registration-to-azure;
 * --trigger post-login runs send-first-login-to-azure. EVENT.json is an Auth0 `event` for
 * that trigger (see auth0/testing/events/ and auth0/testing/events/post-login/).
 * --budget-ms replaces the first-login Action's 1 s budget, for a local host on a machine
 * too loaded to answer within it (the budget itself is tested against an HTTP double).
 * Secrets come from the environment, over any `secrets` in the file. The Action's log
 * lines go to stderr; one JSON line with the result goes to stdout.
 * The Action is built from auth0/src first (build-actions.js), so this runs what `make actions`
 * would deploy now, from a clean clone too.
 * Exit codes: 0 delivered, 1 not delivered or refused, 2 bad usage.
 */
const fs = require('node:fs');

const { loadAction } = require('./build-actions.js');

/** The Action each trigger runs, by its name in tenant/actions/. */
const ACTIONS = {
  'post-user-registration': 'send-registration-to-azure',
  'post-login': 'send-first-login-to-azure',
};
const USAGE =
  'usage: node auth0/scripts/run-action.js [--trigger post-user-registration|post-login [--budget-ms N]]' +
  ' EVENT.json|-   (secrets from the environment)';

const SECRET_NAMES = ['WEBHOOK_SECRET', 'INGEST_URL', 'FUNCTION_KEY', 'SEND_FIELDS'];

function readEvent(source) {
  const text = source === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(source, 'utf8');
  const event = JSON.parse(text);
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new Error('the event must be a JSON object');
  }
  return event;
}

function secretsFromEnvironment(env) {
  return Object.fromEntries(SECRET_NAMES.filter((name) => env[name] !== undefined).map((name) => [name, env[name]]));
}

/** `[--trigger NAME] [--budget-ms N] EVENT` into {trigger, policy, source}, or null. */
function parseArguments(argv) {
  const parsed = { trigger: 'post-user-registration', policy: {} };
  const rest = [...argv];
  while (rest[0] === '--trigger' || rest[0] === '--budget-ms') {
    const [flag, value] = rest.splice(0, 2);
    if (flag === '--trigger') parsed.trigger = value;
    else if (/^[1-9]\d{0,5}$/.test(value ?? '')) parsed.policy.budgetMs = Number(value);
    else return null;
  }
  const budgetMisplaced = 'budgetMs' in parsed.policy && parsed.trigger !== 'post-login';
  if (rest.length !== 1 || ['-h', '--help'].includes(rest[0]) || !(parsed.trigger in ACTIONS) || budgetMisplaced) {
    return null;
  }
  return { ...parsed, source: rest[0] };
}

async function main(argv, env) {
  const args = parseArguments(argv);
  if (args === null) {
    console.error(USAGE);
    return 2;
  }
  let event;
  try {
    event = readEvent(args.source);
  } catch (error) {
    console.error(`cannot read the event: ${error.message}`);
    return 2;
  }
  event.secrets = { ...(event.secrets ?? {}), ...secretsFromEnvironment(env) };
  const action = loadAction(ACTIONS[args.trigger]);
  const handler = action.createHandler({ deps: { log: (line) => console.error(line) }, policy: args.policy });
  try {
    const result = await handler(event, {});
    console.log(JSON.stringify(result));
    return result.delivered ? 0 : 1;
  } catch (error) {
    const result = error.result ?? { delivered: false, reason: error.name };
    console.log(JSON.stringify(result));
    console.error(`${error.name}: ${error.message}`);
    return 1;
  }
}

main(process.argv.slice(2), process.env).then((code) => {
  process.exitCode = code;
});

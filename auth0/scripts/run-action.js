#!/usr/bin/env node
'use strict';
/**
 * Run the Action's handler in plain Node, outside Auth0, against a real ingest.
 *
 *   WEBHOOK_SECRET=whsec_... INGEST_URL=http://127.0.0.1:7071/api/registrations \
 *   FUNCTION_KEY=... [SEND_FIELDS=email,phone_number] \
 *     node auth0/scripts/run-action.js EVENT.json      # or '-' to read the event from stdin
 *
 * EVENT.json is an Auth0 post-user-registration `event` (see auth0/testing/events/).
 * Secrets come from the environment, over any `secrets` in the file. The Action's log
 * lines go to stderr; one JSON line with the result goes to stdout.
 * Exit codes: 0 delivered, 1 not delivered or refused, 2 bad usage.
 */
const fs = require('node:fs');

const action = require('../tenant/actions/send-registration-to-azure/code.js');

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

async function main(argv, env) {
  if (argv.length !== 1 || argv[0] === '-h' || argv[0] === '--help') {
    console.error('usage: node auth0/scripts/run-action.js EVENT.json|-   (secrets from the environment)');
    return 2;
  }
  let event;
  try {
    event = readEvent(argv[0]);
  } catch (error) {
    console.error(`cannot read the event: ${error.message}`);
    return 2;
  }
  event.secrets = { ...(event.secrets ?? {}), ...secretsFromEnvironment(env) };
  const handler = action.createHandler({ deps: { log: (line) => console.error(line) } });
  try {
    const result = await handler(event, {});
    console.log(JSON.stringify(result));
    return 0;
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

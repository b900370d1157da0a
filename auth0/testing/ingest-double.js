'use strict';
/**
 * A real HTTP server on 127.0.0.1 (port 0) standing in for the ingest: it answers from a
 * script, fails on purpose, and records every request it received.
 */
const http = require('node:http');

/**
 * Each script step answers one request, in order; the last step repeats. A step is
 * `{status, headers, body, delayMs}` (answer, after delayMs if given), the string 'hang'
 * (read the request, never answer), the string 'stall' (send a 202 head and part of a body,
 * never finish it), or a function `(request) => step`.
 */
async function startIngestDouble(script) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const request = {
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      requests.push(request);
      let step = script[Math.min(requests.length, script.length) - 1];
      if (typeof step === 'function') step = step(request);
      if (step === 'hang') return;
      if (step === 'stall') {
        res.writeHead(202, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"id":');
        return;
      }
      const answer = () => {
        res.writeHead(step.status, step.headers ?? {});
        res.end(step.body ?? '');
      };
      if (step.delayMs) setTimeout(answer, step.delayMs);
      else answer();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/api/registrations`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Run `body(ingest)` against an ingest double answering from `script`; always closes it. */
async function withIngest(script, body) {
  const ingest = await startIngestDouble(script);
  try {
    return await body(ingest);
  } finally {
    await ingest.close();
  }
}

/** A loopback URL nothing listens on: bind a port, note it, release it. */
async function refusedUrl() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/api/registrations`;
}

module.exports = { withIngest, refusedUrl };

'use strict';
/**
 * A clock whose sleeps return at once and move its `now` forward instead: retry schedules
 * measured in seconds run in milliseconds, while real time still passes during requests.
 */
function skippingClock() {
  let skippedMs = 0;
  const sleeps = [];
  return {
    now: () => Date.now() + skippedMs,
    sleep: async (ms) => {
      sleeps.push(ms);
      skippedMs += ms;
    },
    sleeps,
  };
}

/** A `random` that replays the given values in a loop (for exact backoff expectations). */
function replayRandom(values) {
  let index = 0;
  return () => values[index++ % values.length];
}

module.exports = { skippingClock, replayRandom };

// Child process for the store-concurrency test: tag an existing image N times as <prefix>:<i>.
import { tagImage } from '../../src/oci/index.js';

const [store, prefix, n] = process.argv.slice(2);
for (let i = 0; i < Number(n); i++) await tagImage('base:1', `${prefix}:${i}`, { store });

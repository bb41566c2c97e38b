// A store writer for the stress test: imports an archive, tags and removes images in a loop until killed.
// Races with the other writers ("not found", a blob collected meanwhile) are expected and only counted.
import { importImages, removeImage, tagImage, OciError } from '../../src/oci/index.js';

const [store, archive, prefix] = process.argv.slice(2);
for (let i = 0; ; i++) {
  try {
    const [ref] = await importImages(archive, { store });
    await tagImage(ref, `${prefix}:${i % 5}`, { store });
    if (i % 2 === 0) await removeImage(`${prefix}:${(i + 2) % 5}`, { store });
  } catch (err) {
    if (!(err instanceof OciError)) throw err;
    // a race with another writer (image removed meanwhile): the store must stay consistent, which is checked
  }
}

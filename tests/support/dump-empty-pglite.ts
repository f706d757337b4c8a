import { writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';

// Writes a new, empty PGlite data directory as a tar to the path given (see pglite-snapshot.ts).
const pglite = await PGlite.create('memory://');
const dump = await pglite.dumpDataDir('none');
await pglite.close();
writeFileSync(process.argv[2]!, Buffer.from(await dump.arrayBuffer()));

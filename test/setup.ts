// Loaded before every test file (vitest setupFiles): the built-in algorithms register their names and
// key readers with the configuration, as the composition root does in the daemon.

import '../src/algorithms/index.js';

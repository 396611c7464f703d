import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.base';

// Two entry points: the SDK, and test support for plugin authors (@boxwatch/core/testing).
export default defineConfig(libraryBuild({ entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' } }));

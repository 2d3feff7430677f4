#!/usr/bin/env node
// fieldmesh-bridge runs from TypeScript source through tsx's loader, like the fieldmesh CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/bridge/cli.ts');
process.exitCode = await main(process.argv.slice(2));

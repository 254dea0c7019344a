// Preloaded (node --require) into server child processes started by local-servers.ts: exit when the parent's
// end of stdin closes, so a test process that dies does not leave a server behind.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

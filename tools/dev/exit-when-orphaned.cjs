// Preloaded (node --require) into the broker processes of `npm run dev:cluster`: exit when the parent process
// is gone (this process was re-parented), so a dev:cluster killed without its cleanup leaves no broker behind.
// Not exit-with-parent.cjs: a preload reading stdin stops tsx's module hooks (bin/floe.js) from loading on Node 20.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();

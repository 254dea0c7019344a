/**
 * The compression packages (the native snappy, lz4 and zstd bindings, and fzstd), loaded on first use rather
 * than when the broker starts: a broker whose clients never send or ask for compressed batches never loads
 * them (they cost an idle broker ≈ 13 MB of RSS). Loaded with require, which every one of them supports, so
 * that synchronous paths can use them; the first use pays a load of a few milliseconds.
 */
import { createRequire } from 'node:module';

type Snappy = typeof import('snappy');
type Lz4 = typeof import('lz4-napi');
type Zstd = typeof import('@mongodb-js/zstd');
type Fzstd = typeof import('fzstd');

const require = createRequire(import.meta.url);

let snappy: Snappy | undefined;
let lz4: Lz4 | undefined;
let zstd: Zstd | undefined;
let fzstd: Fzstd | undefined;

/** `snappy` (raw snappy blocks, napi). */
export function snappyPackage(): Snappy {
  return (snappy ??= require('snappy') as Snappy);
}

/** `lz4-napi` (its frame API is Kafka's lz4 format). */
export function lz4Package(): Lz4 {
  return (lz4 ??= require('lz4-napi') as Lz4);
}

/** `@mongodb-js/zstd` (native, asynchronous only). */
export function zstdPackage(): Zstd {
  return (zstd ??= require('@mongodb-js/zstd') as Zstd);
}

/** `fzstd` (pure JavaScript zstd decoder, synchronous). */
export function fzstdPackage(): Fzstd {
  return (fzstd ??= require('fzstd') as Fzstd);
}

/**
 * Storage's one error map (Redpanda's `map_produce_error_code`): which Kafka error a client gets when a
 * backend under the partition seam fails. Every catch site in storage/ asks here, so the choice between
 * KAFKA_STORAGE_ERROR and REQUEST_TIMED_OUT is made once.
 *
 * - An object commit whose outcome is unknown (connection lost mid-commit, coordinator unreachable past the
 *   retry deadline) is REQUEST_TIMED_OUT: retriable, and it tells the producer the write may have happened
 *   (Kafka's answer when replication did not finish in time); its retry is recognised as a duplicate.
 * - Everything else (object store down or refusing, another coordinator call failing, the local disk
 *   failing) is KAFKA_STORAGE_ERROR: retriable; what it may have changed is harmless to repeat. An error the
 *   coordinator raised on purpose (CoordinatorError) keeps its own Kafka code.
 */
import { CoordinatorError } from '../coordinator/coordinator.ts';
import { ErrorCode } from '../protocol/gen/errors.ts';

/** Which backend failed, and how. */
export type StorageFailure =
  /** Object store request (PUT, GET, …). */
  | 'object-store'
  /** The commit of an object (its outcome may be unknown). */
  | 'commit'
  /** Any other coordinator call (find batches, list offsets, delete records, sizes). */
  | 'coordinator'
  /** Local disk of a classic log. */
  | 'disk';

export interface KafkaError {
  errorCode: number;
  errorMessage: string;
}

export function toKafkaError(failure: StorageFailure, err: unknown): KafkaError {
  const message = err instanceof Error ? err.message : String(err);
  if (failure === 'commit') return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `commit failed: ${message}` };
  if (err instanceof CoordinatorError) return { errorCode: err.errorCode, errorMessage: message };
  switch (failure) {
    case 'coordinator':
      return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: `coordinator: ${message}` };
    case 'object-store':
      return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: `object store: ${message}` };
    case 'disk':
      return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: `log: ${message}` };
  }
}

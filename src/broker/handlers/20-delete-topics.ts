/**
 * DeleteTopics (key 20), versions 0-6 (v0 from Kafka 3.9 and older).
 *
 * Behavior: removes the topic from the coordinator in one transaction; its objects become garbage for the
 * cleaner (DESIGN.md); a classic topic's log folders are removed. v6 addresses topics by name or id (both given → INVALID_REQUEST); unknown names get
 * UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID.
 */
import type { DeleteTopicsRequest, DeleteTopicsResponse, DeleteTopicsResponseDeletableTopicResult } from '../../protocol/gen/messages/delete-topics.ts';
import type { Init } from '../../protocol/gen/init.ts';
import { ErrorCode } from '../../protocol/gen/errors.ts';
import { ZERO_UUID } from '../../protocol/uuid.ts';
import { defineHandler } from '../handler.ts';

export const deleteTopics = defineHandler<DeleteTopicsRequest, DeleteTopicsResponse>({
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, req) {
    const wanted = ctx.apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const responses: Init<DeleteTopicsResponseDeletableTopicResult>[] = [];
    // A topic created through another broker a moment ago may not be known here yet.
    const lookup = ctx.topics.ensure(wanted.map((w) => ({ name: w.name, topicId: w.topicId })));
    if (lookup) await lookup;
    for (const w of wanted) {
      const byName = w.name !== null && w.name !== '';
      const byId = w.topicId !== ZERO_UUID;
      if (byName === byId) {
        responses.push({ name: w.name, topicId: w.topicId, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Give either a topic name or a topic id.' });
        continue;
      }
      const topic = byName ? ctx.topics.get(w.name!) : ctx.topics.getById(w.topicId);
      if (!topic) {
        responses.push({
          name: w.name,
          topicId: w.topicId,
          errorCode: byName ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID,
          errorMessage: byName ? `Topic '${w.name}' does not exist.` : `Topic id ${w.topicId} does not exist.`,
        });
        continue;
      }
      const errorCode = await ctx.admin.deleteTopic(topic);
      responses.push({ name: topic.name, topicId: topic.topicId, errorCode, errorMessage: null });
    }
    return { throttleTimeMs: 0, responses };
  },
  errorResponse: (req, errorCode, ctx) => ({
    responses: (ctx.apiVersion >= 6 ? req.topics : req.topicNames.map((name) => ({ name, topicId: ZERO_UUID })))
      .map((t) => ({ name: t.name, topicId: t.topicId, errorCode })),
  }),
});

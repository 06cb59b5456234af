import type { Metadata, ServerReadableStream } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcStreamMethod } from '@nestjs/microservices';
import { Observable, concatMap, reduce, tap } from 'rxjs';
import { toErrorBody } from '../../core/error-body.js';
import type { ErrorBody } from '../../protocol/index.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import {
  MAX_WAITING,
  REALTIME_SERVICE,
  requestSize,
  type PublishRequest,
} from './grpc-messages.js';
import { publishOne, type PublishReply } from './grpc-publish.js';
import { callerOf, RealtimeGrpcStreams } from './grpc-streams.service.js';
import { authenticateRpc } from './grpc-support.js';

/** The first refusals a summary lists; it counts the others. */
const MAX_LISTED_REJECTIONS = 100;

type Outcome = { index: number } & (
  { published: PublishReply; rejected?: undefined } | { rejected: ErrorBody; published?: undefined }
);

/** The proto's `PublishSummary`. */
interface PublishSummary {
  count: number;
  last?: PublishReply;
  rejected: { index: number; code: string; message: string }[];
  rejectedCount: number;
}

const emptySummary = (): PublishSummary => ({ count: 0, rejected: [], rejectedCount: 0 });

function addOutcome(summary: PublishSummary, outcome: Outcome): PublishSummary {
  if (outcome.published) {
    summary.count++;
    summary.last = outcome.published;
  } else {
    summary.rejectedCount++;
    if (summary.rejected.length < MAX_LISTED_REJECTIONS) {
      const { code, message } = outcome.rejected;
      summary.rejected.push({ index: outcome.index, code, message });
    }
  }
  return summary;
}

/**
 * The client-streaming call of realtime.v1.Realtime (docs/grpc.md): PublishStream,
 * a stream of messages answered with one summary once the client ends it.
 */
@Controller()
export class RealtimeGrpcClientStreamController {
  constructor(
    private readonly hub: RealtimeHub,
    private readonly streams: RealtimeGrpcStreams,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
  ) {}

  @GrpcStreamMethod(REALTIME_SERVICE, 'PublishStream')
  publishStream(
    messages: Observable<PublishRequest>,
    metadata: Metadata,
    call: ServerReadableStream<PublishRequest, unknown>,
  ) {
    // Subscribed at once (the messages may come before the authentication ends), and
    // handled one after the other. While MAX_WAITING wait for their turn, the call is
    // not read: HTTP/2 flow control holds the client back, and nothing else grows.
    const principal = authenticateRpc(this.realtime.authenticate, metadata, 'PublishStream');
    principal.catch(() => undefined); // the first message's turn reports it
    let waiting = 0;
    return messages.pipe(
      tap(() => {
        if (++waiting >= MAX_WAITING) call.pause();
      }),
      concatMap(async (request, index): Promise<Outcome> => {
        const caller = await principal;
        try {
          this.streams.takeRate(callerOf(caller, call), requestSize(request));
          const { authorize } = this.realtime;
          return { index, published: await publishOne(this.hub, authorize, caller, request) };
        } catch (error) {
          // Made of the error itself, its code and message (unexpected ones: INTERNAL_ERROR).
          return { index, rejected: toErrorBody(error) };
        } finally {
          if (--waiting <= MAX_WAITING / 2 && call.isPaused()) call.resume();
        }
      }),
      // Summed up as the messages go: nothing is kept per message.
      reduce(addOutcome, emptySummary()),
      // An empty stream still needs the caller authenticated.
      concatMap(async (summary) => (await principal, summary)),
    );
  }
}

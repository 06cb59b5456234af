import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { assertCanJoin } from '../../core/authorize.js';
import { assertUserIds } from '../../core/presence/presence-state.js';
import { PresenceService } from '../../core/presence/presence.service.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { RpcService } from '../../core/rpc/rpc.service.js';
import { ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { StreamSink } from '../stream-connection.js';
import {
  presenceMessage,
  REALTIME_SERVICE,
  requestSize,
  roomName,
  type PublishRequest,
} from './grpc-messages.js';
import { publishOne } from './grpc-publish.js';
import { callerOf, RealtimeGrpcStreams } from './grpc-streams.service.js';
import { rpcException } from './grpc-errors.js';
import { authenticateRpc, parseJson } from './grpc-support.js';

type Unary = ServerUnaryCall<unknown, unknown>;

/** The sink of a connection that sends nothing (an RPC caller). */
const NO_SINK: StreamSink = {
  event: () => undefined,
  comment: () => undefined,
  ids: false,
  buffered: 0,
  end: () => undefined,
};

/**
 * The unary calls of realtime.v1.Realtime (docs/grpc.md): Publish, GetRoom,
 * GetStatuses and Call, each one request and one answer.
 */
@Controller()
export class RealtimeGrpcUnaryController {
  constructor(
    private readonly hub: RealtimeHub,
    private readonly presence: PresenceService,
    private readonly rpc: RpcService,
    private readonly streams: RealtimeGrpcStreams,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
  ) {}

  @GrpcMethod(REALTIME_SERVICE, 'Publish')
  async publish(request: PublishRequest, metadata: Metadata, call: Unary) {
    const principal = await authenticateRpc(this.realtime.authenticate, metadata, 'Publish');
    try {
      this.streams.takeRate(callerOf(principal, call), requestSize(request));
      return await publishOne(this.hub, this.realtime.authorize, principal, request);
    } catch (error) {
      throw rpcException(error);
    }
  }

  @GrpcMethod(REALTIME_SERVICE, 'GetRoom')
  async getRoom(request: { room?: string }, metadata: Metadata, call: Unary) {
    const principal = await authenticateRpc(this.realtime.authenticate, metadata, 'GetRoom');
    try {
      this.streams.takeRate(callerOf(principal, call), requestSize(request));
      const room = roomName(request.room, this.hub.maxRoomNameLength);
      await assertCanJoin(this.realtime.authorize, principal, room);
      return await this.presence.roomView(room, { viewer: principal.userId });
    } catch (error) {
      throw rpcException(error);
    }
  }

  @GrpcMethod(REALTIME_SERVICE, 'GetStatuses')
  async getStatuses(request: { users?: string[] }, metadata: Metadata, call: Unary) {
    const principal = await authenticateRpc(this.realtime.authenticate, metadata, 'GetStatuses');
    try {
      this.streams.takeRate(callerOf(principal, call), requestSize(request));
      const users = request.users ?? [];
      assertUserIds(users);
      const states = await this.presence.getStatuses(users, { viewer: principal.userId });
      return { statuses: states.map(presenceMessage) };
    } catch (error) {
      throw rpcException(error);
    }
  }

  @GrpcMethod(REALTIME_SERVICE, 'Call')
  async call(request: { method?: string; params?: string }, metadata: Metadata, call: Unary) {
    const principal = await authenticateRpc(this.realtime.authenticate, metadata, 'Call');
    try {
      const key = callerOf(principal, call);
      this.streams.takeRate(key, requestSize(request));
      if (!request.method) throw new RealtimeError(ErrorCode.InvalidData, 'method is required');
      const params = parseJson(request.params, 'params');
      // The caller, as RPC handlers see it: a connection of its own, in no room.
      const caller = this.streams.connection(principal, [], NO_SINK);
      const result = await this.streams.boundedCall(key, () =>
        this.rpc.invoke(caller, request.method!, params),
      );
      return { result: JSON.stringify(result ?? null) };
    } catch (error) {
      throw rpcException(error);
    }
  }
}

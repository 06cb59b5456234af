import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { RealtimeStartupError } from '../../startup-error.js';

/**
 * The mark of RealtimeGrpcModule (a static property), by which the listener finds it
 * among the app's modules without importing it (gRPC is optional).
 *
 * @example
 * ```ts
 * class RealtimeGrpcModule { static readonly [SERVES_GRPC] = true; }
 * ```
 */
export const SERVES_GRPC = Symbol.for('nest-realtime:serves-grpc');

/**
 * Whether the `grpc` option is served: `RealtimeGrpcModule` imported (its controllers
 * answer), `connectRealtimeGrpc(app)` called, and its server listening. A provider of
 * RealtimeModule (it needs nothing of gRPC, which is optional), so that the module can
 * refuse, or warn of, a `grpc` option that nothing serves:
 *
 * - with `grpc` set and no `RealtimeGrpcModule` (forgotten beside `forRootAsync`), the
 *   app fails to start with a {@link RealtimeStartupError} (`GRPC_MODULE_MISSING`);
 * - with `grpc` set and `connectRealtimeGrpc(app)` not called before `app.listen()`,
 *   one warning is logged once the app listens.
 *
 * @example
 * ```ts
 * app.get(GrpcListener).listening; // true once connectRealtimeGrpc(app) resolved
 * ```
 */
@Injectable()
export class GrpcListener implements OnApplicationBootstrap, OnModuleDestroy {
  /** Whether RealtimeGrpcModule is part of the app. */
  readonly moduleImported: boolean;
  /** Set by connectRealtimeGrpc when it is called. */
  connected = false;
  /** Set once connectRealtimeGrpc started the gRPC server. */
  listening = false;
  private readonly logger = new Logger('RealtimeGrpc');
  private listen: Subscription | undefined;

  /**
   * @throws RealtimeStartupError (`GRPC_MODULE_MISSING`) when the `grpc` option is set
   *   and no RealtimeGrpcModule is imported: while the app is created, before anything
   *   (the engine) starts.
   */
  constructor(
    @Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions,
    private readonly adapterHost: HttpAdapterHost,
    modules: ModulesContainer,
  ) {
    this.moduleImported = [...modules.values()].some(
      (module) => (module.metatype as { [SERVES_GRPC]?: boolean } | undefined)?.[SERVES_GRPC],
    );
    if (options.grpc && !this.moduleImported) throw missingModule();
  }

  /** The gRPC address (`grpc.url`), or undefined when gRPC is off. */
  get url(): string | undefined {
    return this.options.grpc?.url;
  }

  onApplicationBootstrap(): void {
    if (!this.options.grpc) return;
    // After listen, not at bootstrap: connectRealtimeGrpc is documented before listen,
    // and an app may call init() before it.
    this.listen = this.adapterHost.listen$.subscribe(() => {
      this.listen?.unsubscribe();
      if (this.connected) return;
      this.logger.warn(
        `the grpc option is set (grpc.url ${this.options.grpc!.url}), but ` +
          'connectRealtimeGrpc(app) was not called before app.listen(): no gRPC server ' +
          "listens. Call it (from 'nest-realtime/grpc') before app.listen(), or remove the grpc option",
      );
    });
  }

  onModuleDestroy(): void {
    this.listen?.unsubscribe();
  }
}

function missingModule(): RealtimeStartupError {
  return new RealtimeStartupError(
    'GRPC_MODULE_MISSING',
    'the grpc option is set, but RealtimeGrpcModule is not imported: every gRPC call ' +
      'would answer UNIMPLEMENTED',
    "import RealtimeGrpcModule (from 'nest-realtime/grpc') in the module that imports " +
      'RealtimeModule.forRootAsync(...), or remove the grpc option',
  );
}

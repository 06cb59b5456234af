// The SSE suites' review controller (test/e2e/sse): an @Sse() helper handler that a test
// holds until the app is shutting down, and a presence watch.
import { Controller, Query, Sse } from '@nestjs/common';
import { interval } from 'rxjs';
import { RealtimeSse } from '../../lib/index.js';

/** Lets a test hold `GET /review/late` until the app is shutting down. */
export const late = { arrived: false, release: (): void => undefined };

@Controller('review')
export class ReviewController {
  constructor(private readonly sse: RealtimeSse) {}

  @Sse('late')
  async late() {
    late.arrived = true;
    await new Promise<void>((resolve) => (late.release = resolve));
    return this.sse.stream(interval(60_000));
  }

  @Sse('watch')
  watch(@Query('users') users: string) {
    return this.sse.presence(users.split(','));
  }
}
